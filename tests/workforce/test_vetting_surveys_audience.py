"""Issue 3a: vetting lifecycle, append-only history, surveys → profile, contradictions,
audience rules / estimate / quotas, invitations ranked by predicted accuracy."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.utils import timezone

from tasks_app.models import Answer, Example, Item
from tests.factories import UserFactory, annotator, annotator_working, customer_with_token, make_project
from workforce import services
from workforce.models import AnnotatorProfile, AttributeValue, Invitation, ProfileFlag, StatusChange, SurveyCompletion

pytestmark = pytest.mark.django_db
PW = "a-long-pass-phrase-42"


def staff():
    return UserFactory(is_staff=True)


def with_attrs(user, **values):
    services.profile_update(annotator=user, values=values)
    return user


# --- vetting --------------------------------------------------------------------------------

def test_applicant_becomes_vetted_then_active_with_history():
    ops = staff()
    user = services.annotator_signup(username="newbie", password=PW, email="newbie@example.org")
    profile = AnnotatorProfile.objects.get(user=user)
    assert profile.status == "applicant"
    project = make_project(customer_with_token().organization, n_items=3)
    m = services.membership_join(project=project, annotator=user)
    m.stage = "working"
    m.save()
    with pytest.raises(ValidationError, match="not active"):
        services.task_next(membership=m)

    link = services.email_verification_send(annotator=user, link_base="http://testserver/verify-email/")
    assert mail.outbox and link in mail.outbox[-1].body
    token = link.rsplit("/", 2)[-2]
    assert services.email_verify(token=token).status == "applicant"  # profile and identity still missing
    with pytest.raises(ValidationError):
        services.email_verify(token=token[:-3] + "xyz")
    with_attrs(user, age=30, country="de", languages="en, de")
    with pytest.raises(ValidationError):
        services.annotator_activate(annotator=user)
    assert services.identity_check_record(annotator=user, actor=ops, passed=True).status == "vetted"
    assert services.annotator_activate(annotator=user).status == "active"
    assert services.task_next(membership=m) is not None

    history = list(StatusChange.objects.filter(annotator=user).values_list("from_status", "to_status", "actor_id"))
    assert history == [("", "applicant", None), ("applicant", "vetted", None), ("vetted", "active", user.pk)]


def test_suspension_blocks_tasks_releases_leases_and_is_recorded():
    ops = staff()
    project = make_project(customer_with_token().organization, n_items=5)
    m = annotator_working(project)
    lease = services.task_next(membership=m)
    assert lease is not None
    with pytest.raises(ValidationError):
        services.annotator_suspend(annotator=m.annotator, actor=ops, reason="  ")
    services.annotator_suspend(annotator=m.annotator, actor=ops, reason="Shared account")
    lease.refresh_from_db()
    assert lease.state == "released"
    with pytest.raises(ValidationError, match="suspended"):
        services.task_next(membership=m)
    with pytest.raises(ValidationError):
        services.annotator_suspend(annotator=m.annotator, actor=m.annotator, reason="not staff")
    last = StatusChange.objects.filter(annotator=m.annotator).last()
    assert (last.to_status, last.actor_id, last.reason) == ("suspended", ops.pk, "Shared account")
    services.annotator_unsuspend(annotator=m.annotator, actor=ops, reason="Cleared")
    assert services.task_next(membership=m) is not None


def test_status_history_is_append_only_in_the_model_and_in_postgresql():
    user = annotator()
    row = StatusChange.objects.filter(annotator=user).first()
    row.reason = "rewritten"
    with pytest.raises(TypeError):
        row.save()
    with pytest.raises(TypeError):
        row.delete()
    with pytest.raises(TypeError):
        StatusChange.objects.filter(pk=row.pk).update(reason="x")
    with pytest.raises(TypeError):
        StatusChange.objects.filter(pk=row.pk).delete()
    for sql in ("UPDATE workforce_statuschange SET reason = 'x' WHERE id = %s",
                "DELETE FROM workforce_statuschange WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql, [row.pk])
    assert StatusChange.objects.get(pk=row.pk).reason != "rewritten"


def test_web_signup_verify_profile_identity_activate():
    ops = staff()
    web = Client()
    resp = web.post("/signup/", {"username": "webbie", "email": "webbie@example.org", "password": PW, "password_again": PW})
    assert resp.status_code == 302
    link = re.search(r"http://testserver(/verify-email/[^/\s]+/)", mail.outbox[-1].body).group(1)
    assert "Finish vetting" in web.get("/").content.decode()
    assert "Email verified" in web.get(link).content.decode()
    bad = web.post("/profile/", {"age": "7", "country": "DE", "languages": "en"})
    assert bad.status_code == 200 and "not possible" in bad.content.decode()
    assert not AttributeValue.objects.filter(annotator__username="webbie").exists()
    assert web.post("/profile/", {"age": "34", "country": "DE", "languages": "en"}).status_code == 302
    user = AnnotatorProfile.objects.get(user__username="webbie").user
    opsweb = Client()
    opsweb.force_login(ops)
    assert opsweb.post(f"/ops/people/{user.pk}/", {"action": "identity_pass"}).status_code == 302
    assert web.post("/account/", {"action": "activate"}).status_code == 302
    assert AnnotatorProfile.objects.get(user=user).status == "active"


# --- surveys and profiles -------------------------------------------------------------------

def _survey(ops, reward="2.50"):
    s = services.survey_create(actor=ops, title="About you", reward=reward)
    q_age = services.survey_question_add(survey=s, text="Age?", kind="number", attribute="age")
    q_gender = services.survey_question_add(survey=s, text="Gender?", kind="single", attribute="gender")
    q_dev = services.survey_question_add(survey=s, text="Devices?", kind="multi", attribute="device")
    q_free = services.survey_question_add(survey=s, text="Anything else?", kind="text")
    services.survey_open_set(survey=s, is_open=True)
    return s, q_age, q_gender, q_dev, q_free


def test_survey_pays_once_maps_attributes_and_rejects_bad_input():
    ops = staff()
    user = annotator()
    s, q_age, q_gender, q_dev, q_free = _survey(ops)
    bad = {q_age.pk: "two hundred", q_gender.pk: "woman", q_dev.pk: ["phone"], q_free.pk: "hi"}
    with pytest.raises(ValidationError) as exc:
        services.survey_submit(survey=s, annotator=user, answers=bad)
    assert f"q-{q_age.pk}" in exc.value.message_dict
    for age in (250, 5):
        with pytest.raises(ValidationError, match="not possible"):
            services.survey_submit(survey=s, annotator=user, answers={**bad, q_age.pk: age})
    with pytest.raises(ValidationError):
        services.survey_submit(survey=s, annotator=user, answers={**bad, q_age.pk: 30, q_gender.pk: "alien"})
    assert not SurveyCompletion.objects.exists() and not AttributeValue.objects.filter(annotator=user).exists()

    good = {q_age.pk: 30, q_gender.pk: "woman", q_dev.pk: ["phone", "laptop"], q_free.pk: "hello"}
    c = services.survey_submit(survey=s, annotator=user, answers=good)
    assert str(c.reward) == "2.50"
    with pytest.raises(ValidationError, match="already completed"):
        services.survey_submit(survey=s, annotator=user, answers=good)
    assert SurveyCompletion.objects.filter(annotator=user).count() == 1
    # paid once, in the same transaction: one ledger entry of the survey's reward
    from workforce.models import Earning

    paid = list(Earning.objects.filter(annotator=user).values_list("kind", "source_key", "amount"))
    assert [(k, key, str(a)) for k, key, a in paid] == [("survey", f"survey-completion:{c.pk}", "2.5000")]
    assert list(services.survey_completions_unpaid()) == [c]
    assert list(services.survey_completions_unpaid(paid_completion_ids=[c.pk])) == []
    current = {a.key: (a.value, a.source) for a in AttributeValue.objects.filter(annotator=user, is_current=True)}
    assert current == {"age": (30, f"survey:{s.pk}"), "gender": ("woman", f"survey:{s.pk}"),
                       "device": (["laptop", "phone"], f"survey:{s.pk}")}


def test_contradicting_reasked_attribute_flags_the_profile():
    ops = staff()
    user = with_attrs(annotator(), age=30, gender="man", education="master", device="phone")
    s, q_age, q_gender, q_dev, q_free = _survey(ops)
    services.survey_submit(survey=s, annotator=user,
                           answers={q_age.pk: 31, q_gender.pk: "woman", q_dev.pk: ["tablet"], q_free.pk: "x"})
    flags = list(ProfileFlag.objects.filter(annotator=user))
    assert [(f.key, f.previous, f.new) for f in flags] == [("gender", "man", "woman")]  # age ±1, devices grow
    services.profile_update(annotator=user, values={"education": "secondary"})
    assert ProfileFlag.objects.filter(annotator=user, key="education").exists()
    assert AttributeValue.objects.filter(annotator=user, key="gender").count() == 2  # history kept
    with pytest.raises(ValidationError):
        services.profile_flag_resolve(flag=flags[0], actor=ops, resolution="")
    services.profile_flag_resolve(flag=flags[0], actor=ops, resolution="Asked: typo")
    with pytest.raises(ValidationError):
        services.profile_flag_resolve(flag=flags[0], actor=ops, resolution="again")


def test_survey_question_validation():
    ops = staff()
    s = services.survey_create(actor=ops, title="Q", reward="1")
    with pytest.raises(ValidationError):
        services.survey_question_add(survey=s, text="Hair?", kind="single", attribute="hair_colour", choices=["a", "b"])
    with pytest.raises(ValidationError):
        services.survey_question_add(survey=s, text="Age?", kind="single", attribute="age", choices=["a", "b"])
    with pytest.raises(ValidationError):
        services.survey_create(actor=ops, title="Q", reward="-1")
    with pytest.raises(ValidationError):
        services.survey_open_set(survey=s, is_open=True)


# --- audience -------------------------------------------------------------------------------

def test_audience_api_rules_errors_and_estimate_suppression():
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=5)
    url = f"/api/projects/{project.pk}/audience/"
    resp = customer.client.put(url, {"rules": {"hair_colour": ["red"], "age": {"min": 10}},
                                     "quotas": [{"attribute": "gender", "values": ["woman"], "min_share": 2}]}, format="json")
    assert resp.status_code == 400
    body = resp.json()
    assert set(body["rules"]) == {"hair_colour", "age"} and "min_share" in body["quotas"][0]
    assert customer.client.get(url).json()["rules"] == {}  # nothing stored

    women = [with_attrs(annotator(), gender="woman", age=25, country="DE") for _ in range(6)]
    [with_attrs(annotator(), gender="man", age=25, country="FR") for _ in range(7)]
    [with_attrs(annotator(), gender="non_binary", age=25, country="DE") for _ in range(2)]
    resp = customer.client.put(url, {"rules": {"age": {"min": 18, "max": 40}}, "answers_per_day": 100}, format="json")
    assert resp.status_code == 200, resp.content
    est = customer.client.get(url + "estimate/").json()
    assert est["eligible"] == 15
    assert all(v >= 5 for group in est["breakdown"].values() for v in group.values())
    assert est["breakdown"]["gender"] == {"man": 7, "other": 8}  # 2 non-binary + the smallest group (6 women)
    assert est["can_deliver"] is False and est["shortfall_per_day"] == 100.0  # nobody has worked yet
    # a few answers in the last days raise the capacity
    other = make_project(customer.organization, n_items=40)
    now = timezone.now()
    for i, item in enumerate(Item.objects.filter(project=other, is_known=False)[:40]):
        a = Answer.objects.create(item=item, project=other, annotator=women[i % 6], label="positive", client_key=f"k{i}")
        Answer.objects.filter(pk=a.pk).update(created_at=now - timedelta(days=1 + i % 4))
    est = customer.client.get(url + "estimate/?answers_per_day=1").json()
    assert est["capacity_per_day"] == round(40 / 28, 1) and est["can_deliver"] is True and est["shortfall_per_day"] == 0
    assert est["notes"] == []
    # a quota on a group that has not worked caps what the pool can deliver
    resp = customer.client.put(url, {"rules": {"age": {"min": 18, "max": 40}}, "answers_per_day": 1,
                                     "quotas": [{"attribute": "gender", "values": ["man"], "min_share": 0.5}]}, format="json")
    assert resp.status_code == 200, resp.content
    est = customer.client.get(url + "estimate/").json()
    assert est["capacity_per_day"] == 0 and est["can_deliver"] is False and est["shortfall_per_day"] == 1
    assert any("limited by the quota on gender" in n for n in est["notes"])
    resp = customer.client.put(url, {"rules": {"gender": ["non_binary"]}}, format="json")
    est = customer.client.get(url + "estimate/").json()
    assert est["eligible"] is None and est["eligible_fewer_than_suppression"] and est["breakdown"] == {}
    for bad in ("abc", "²", "0", "-1", "1.5"):
        assert customer.client.get(url + f"estimate/?answers_per_day={bad}").status_code == 400, bad
    for body in ({"quotas": [{"attribute": ["gender"], "values": ["woman"], "min_share": 0.5}]},
                 {"rules": {"gender": "woman"}}, {"rules": {"age": {"min": True}}}, {"rules": []},
                 {"rules": {"standing": {"min_accuracy": 2}}}, {"quotas": ["x"]}, {"answers_per_day": 0}):
        assert customer.client.put(url, body, format="json").status_code == 400, body


def test_home_lists_only_eligible_projects_and_task_next_enforces_rules():
    org = customer_with_token().organization
    open_project = make_project(org, n_items=3, name="OPEN-FOR-ALL")
    targeted = make_project(org, n_items=3, name="WOMEN-ONLY")
    services.audience_set(project=targeted, rules={"gender": ["woman"]})
    man = with_attrs(annotator(), gender="man")
    woman = with_attrs(annotator(), gender="woman")
    applicant = services.annotator_signup(username="applicant", password=PW)
    for user, expected in ((man, {"OPEN-FOR-ALL"}), (woman, {"OPEN-FOR-ALL", "WOMEN-ONLY"}), (applicant, set())):
        c = Client()
        c.force_login(user)
        page = c.get("/").content.decode()
        assert {n for n in ("OPEN-FOR-ALL", "WOMEN-ONLY") if n in page} == expected
    m = annotator_working(targeted, man)
    with pytest.raises(ValidationError, match="audience"):
        services.task_next(membership=m)
    assert services.task_next(membership=annotator_working(targeted, woman)) is not None
    assert services.task_next(membership=annotator_working(open_project, man)) is not None


def test_quota_half_of_answers_from_women():
    project = make_project(customer_with_token().organization, n_items=20, max_answers=3)
    services.audience_set(project=project, quotas=[{"attribute": "gender", "values": ["woman"], "min_share": 0.5}])
    man = annotator_working(project, with_attrs(annotator(), gender="man"))
    woman = annotator_working(project, with_attrs(annotator(), gender="woman"))
    assert services.task_next(membership=man) is None  # a man first would make men 100%
    taken = []
    for i in range(6):
        lease = services.task_next(membership=woman)
        services.task_submit(membership=woman, lease_id=lease.pk, label="positive", client_key=f"w{i}")
        taken.append("w")
        while (lease := services.task_next(membership=man)) is not None:
            services.task_submit(membership=man, lease_id=lease.pk, label="positive", client_key=f"m{len(taken)}")
            taken.append("m")
    men = Answer.objects.filter(project=project, annotator=man.annotator).count()
    total = Answer.objects.filter(project=project).count()
    assert men == 6 and total == 12 and men / total <= 0.5


# --- who will do well ---------------------------------------------------------------------------

def _history(project, user, correct: int, wrong: int):
    known = list(Item.objects.filter(project=project, is_known=True)[: correct + wrong])
    for i, item in enumerate(known):
        Answer.objects.create(item=item, project=project, annotator=user, label="x", client_key=f"h{item.pk}",
                              is_check=True, correct=i < correct, scored_at=timezone.now())


def test_invitations_rank_by_predicted_accuracy_and_widen():
    org = customer_with_token().organization
    past = make_project(org, n_items=2, n_examples=40)
    assert Item.objects.filter(project=past, is_known=True).count() >= 20
    good, poor, newcomer = annotator(), annotator(), annotator()
    _history(past, good, 19, 1)
    _history(past, poor, 8, 12)
    new_project = make_project(org, n_items=5, name="NEW")
    services.audience_set(project=new_project, invite_only=True)
    sent = services.invitations_send(project=new_project, size=2)
    assert [i.annotator_id for i in sent] == [good.pk, newcomer.pk]  # the newcomer's prior beats a poor record
    assert sent[0].predicted_accuracy > sent[1].predicted_accuracy
    m = annotator_working(new_project, poor)
    with pytest.raises(ValidationError, match="invitation"):
        services.task_next(membership=m)
    widened = services.invitations_widen()
    assert widened == {new_project.pk: 1}
    inv = Invitation.objects.get(project=new_project, annotator=poor)
    assert inv.wave == 2
    services.invitation_respond(invitation=inv, annotator=poor, accept=True)
    assert services.task_next(membership=m) is not None
    with pytest.raises(ValidationError):
        services.invitation_respond(invitation=inv, annotator=poor, accept=False)


def test_seed_demo_annotators_are_active(capsys):
    from django.core.management import call_command

    call_command("seed_demo", items=4)
    assert set(AnnotatorProfile.objects.filter(user__username__in=["alice", "bob", "carol"])
               .values_list("status", flat=True)) == {"active"}
    assert Example.objects.exists()
    from workforce.models import Survey

    call_command("seed_demo", items=4)  # idempotent
    assert Survey.objects.filter(title="About you", is_open=True).count() == 1


def test_project_pages_hidden_from_applicants_and_people_outside_the_audience():
    org = customer_with_token().organization
    targeted = make_project(org, n_items=3, name="WOMEN-ONLY")
    services.audience_set(project=targeted, rules={"gender": ["woman"], "age": {"min": 18, "max": 30}})
    outsider = with_attrs(annotator(), gender="woman", age=45)
    insider = with_attrs(annotator(), gender="woman", age=25)
    applicant = services.annotator_signup(username="applicant2", password=PW)
    for user, status in ((outsider, 404), (applicant, 404), (insider, 200)):
        c = Client()
        c.force_login(user)
        for path in ("", "tutorial/", "task/"):
            assert c.get(f"/projects/{targeted.pk}/{path}").status_code == status, (user.username, path)


def test_quota_cap_and_validation_shapes():
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=10)
    resp = customer.client.put(f"/api/projects/{project.pk}/audience/", {"quotas": [
        {"attribute": "gender", "values": ["woman"], "max_share": 0.25},
        {"attribute": "age", "values": [3], "min_share": 0.1},
        {"attribute": "device", "values": ["toaster"], "min_share": 0.5, "max_share": 0.2},
        {"attribute": "gender", "values": ["man"]}]}, format="json")
    assert resp.status_code == 400
    quotas = resp.json()["quotas"]
    assert quotas[0] == {} and "attribute" in quotas[1] and "values" in quotas[2] and "non_field_errors" in quotas[3]
    services.audience_set(project=project, quotas=[{"attribute": "gender", "values": ["woman"], "max_share": 0.25}])
    woman = annotator_working(project, with_attrs(annotator(), gender="woman"))
    man = annotator_working(project, with_attrs(annotator(), gender="man"))
    assert services.task_next(membership=woman) is None  # 1/1 = 100% > 25%
    for i in range(3):
        lease = services.task_next(membership=man)
        services.task_submit(membership=man, lease_id=lease.pk, label="positive", client_key=f"m{i}")
    lease = services.task_next(membership=woman)  # 1/4 = 25%: allowed
    assert lease is not None
    services.task_submit(membership=woman, lease_id=lease.pk, label="positive", client_key="w0")
    assert services.task_next(membership=woman) is None  # 2/5 > 25%


def test_widening_runs_as_the_named_celery_task(settings):
    from django.conf import settings as dj

    from cadre.celery import app
    from workforce import tasks

    assert dj.CELERY_BEAT_SCHEDULE["widen-invitations"]["task"] == "workforce.invitations_widen"
    assert "workforce.invitations_widen" in app.tasks
    project = make_project(customer_with_token().organization, n_items=2)
    services.audience_set(project=project, invite_only=True)
    [annotator() for _ in range(3)]
    settings.CADRE_INVITE_TARGET = 2
    assert tasks.invitations_widen.delay().get() == {str(project.pk): 2}
    assert tasks.invitations_widen.delay().get() == {}  # two invitations still fresh: target met
    assert list(Invitation.objects.filter(project=project).values_list("rank", flat=True).order_by("rank")) == [1, 2]


def test_survey_choices_must_be_values_of_the_attribute():
    s = services.survey_create(actor=staff(), title="Where", reward="0.50")
    with pytest.raises(ValidationError, match="Germany"):
        services.survey_question_add(survey=s, text="Country?", kind="single", attribute="country",
                                     choices=["DE", "Germany"])
    q = services.survey_question_add(survey=s, text="Country?", kind="single", attribute="country", choices=["DE", "FR"])
    services.survey_open_set(survey=s, is_open=True)
    user = annotator()
    services.survey_submit(survey=s, annotator=user, answers={q.pk: "FR"})
    assert AttributeValue.objects.get(annotator=user, key="country").value == "FR"


def test_ranking_model_is_fitted_on_history_and_orders_by_accuracy():
    from workforce.services import ranking

    org = customer_with_token().organization
    past = [make_project(org, n_items=1, n_examples=40, name=f"PAST-{i}") for i in range(2)]
    people = [(annotator(), acc) for acc in (0.95, 0.85, 0.7, 0.55, 0.4, 0.9)]
    for project in past:
        for user, acc in people:
            correct = round(acc * 20)
            _history(project, user, correct, 20 - correct)
    model = ranking.model_train()
    assert model.clf is not None and model.n_rows == 2 * 6 * 20  # sklearn, not the prior
    new_project = make_project(org, n_items=2, name="NEXT")
    ranked = ranking.rank(project=new_project, annotator_ids=[u.pk for u, _ in people], model=model)
    by_acc = [u.pk for u, _ in sorted(people, key=lambda t: -t[1])]
    assert [aid for aid, _ in ranked] == by_acc
    preds = [p for _, p in ranked]
    assert all(0 < p < 1 for p in preds) and preds[0] > 0.8 and preds[-1] < 0.6
