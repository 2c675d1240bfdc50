"""Ban rate, expert queue, known-answer audit and their ops pages, on a real database."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from quality import selectors
from quality import services as quality_services
from quality.engine.known_audit import audit_key
from quality.models import AnnotatorQuality, ExpertReview, GatingState, KnownAnswerFlag
from tasks_app.models import Answer, Item
from workforce.models import Membership

from tests.quality.test_scoring import answer, setup_project, worker

User = get_user_model()


def staff_user(name="ops1"):
    return User.objects.create_user(name, password="long-enough-pass", is_staff=True)


# --- ban rate --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_ban_rate_has_n_interval_and_flag_above_20_percent():
    project = setup_project()
    users = [worker(project, f"b{i}") for i in range(5)]
    assert selectors.project_ban_rate(project=project).rate == 0.0
    Membership.objects.filter(project=project, annotator=users[0]).update(standing="revoked")
    br = selectors.project_ban_rate(project=project)
    assert (br.revoked, br.n, br.flagged) == (1, 5, False)  # exactly 20 %: not above
    Membership.objects.filter(project=project, annotator=users[1]).update(standing="revoked")
    br = selectors.project_ban_rate(project=project)
    assert br.flagged and not br.credibly and br.lower < 0.4 < br.upper
    # someone still in onboarding is not part of the denominator
    u = User.objects.create_user("onb", password="long-enough-pass")
    Membership.objects.create(project=project, annotator=u, stage=Membership.Stage.TUTORIAL)
    assert selectors.project_ban_rate(project=project).n == 5


# --- expert queue ----------------------------------------------------------------------------

def _exhaust(project, item, users):
    for u, label in zip(users, ["a", "b", "a"]):
        answer(project, u, item, label)
    item.refresh_from_db()
    if item.status != Item.Status.EXHAUSTED:  # the engine may have accepted it: force the case
        Item.objects.filter(pk=item.pk).update(status=Item.Status.EXHAUSTED, label="a", p_correct=0.7)
        item.refresh_from_db()
    return item


@pytest.mark.django_db(transaction=True)
def test_expert_label_resolves_an_exhausted_item_once():
    project = setup_project(max_answers=3)
    users = [worker(project, f"e{i}") for i in range(3)]
    item = _exhaust(project, Item.objects.filter(project=project, is_known=False).first(), users)
    queue = selectors.expert_queue(project=project)
    assert [r["item"].pk for r in queue] == [item.pk]
    assert dict(queue[0]["votes"]) == {"a": 2, "b": 1}
    ops = staff_user()
    review, created = quality_services.item_expert_resolve(item_id=item.pk, expert=ops, label="b")
    assert created
    item.refresh_from_db()
    assert (item.status, item.label) == (Item.Status.ACCEPTED, "b")
    assert item.p_correct == pytest.approx(0.95) and "CADRE_EXPERT_ACCURACY" in review.method
    assert review.previous_status == "exhausted" and review.previous_label == "a"
    # idempotent: same label again changes nothing; a different one is refused
    again, created = quality_services.item_expert_resolve(item_id=item.pk, expert=ops, label="b")
    assert not created and again.pk == review.pk and ExpertReview.objects.count() == 1
    with pytest.raises(ValidationError):
        quality_services.item_expert_resolve(item_id=item.pk, expert=ops, label="a")
    assert selectors.expert_queue(project=project) == []


@pytest.mark.django_db
def test_expert_resolve_refuses_bad_input_and_writes_nothing():
    project = setup_project(max_answers=3)
    ops = staff_user()
    open_item = Item.objects.filter(project=project, is_known=False).first()
    known = Item.objects.filter(project=project, is_known=True).first()
    with pytest.raises(ValidationError):  # still collecting answers
        quality_services.item_expert_resolve(item_id=open_item.pk, expert=ops, label="a")
    with pytest.raises(ValidationError):  # known items are not in the queue
        quality_services.item_expert_resolve(item_id=known.pk, expert=ops, label="a")
    Item.objects.filter(pk=open_item.pk).update(status=Item.Status.EXHAUSTED)
    with pytest.raises(ValidationError):
        quality_services.item_expert_resolve(item_id=open_item.pk, expert=ops, label="zebra")
    assert ExpertReview.objects.count() == 0
    assert Item.objects.get(pk=open_item.pk).status == Item.Status.EXHAUSTED


@pytest.mark.django_db
def test_expert_accuracy_comes_from_their_checks_when_they_have_some():
    project = setup_project()
    ops = staff_user()
    AnnotatorQuality.objects.create(project=project, annotator=ops, alpha=20, beta=2, checks=18, checks_correct=17)
    p, how = quality_services.expert_p_correct(project=project, expert=ops)
    assert p == pytest.approx(20 / 22) and "17/18" in how


# --- known-answer audit ----------------------------------------------------------------------

def test_audit_key_math():
    strong = [("a", 0.9)] * 4
    flagged = audit_key(["a", "b"], "b", strong)
    assert flagged.flagged and flagged.suggested_label == "a" and flagged.p_key_correct < 0.01
    assert not audit_key(["a", "b"], "b", strong[:2]).flagged  # too few disagree
    mixed = audit_key(["a", "b"], "b", [("a", 0.9)] * 3 + [("b", 0.9)] * 3)
    assert not mixed.flagged and mixed.p_key_correct == pytest.approx(0.9)
    with pytest.raises(ValueError):
        audit_key(["a", "b"], "c", strong)


def _strong_workers(project, n, knowns):
    users = [worker(project, f"s{i}") for i in range(n)]
    for u in users:
        for k in knowns:
            answer(project, u, k, k.known_label)
    return users


@pytest.mark.django_db(transaction=True)
def test_a_key_strong_annotators_reject_is_flagged_held_and_corrected_with_rescoring():
    project = setup_project(n_known=14)
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    good, suspect = knowns[:12], knowns[12]
    users = _strong_workers(project, 4, good)
    wrong_key = suspect.known_label
    right = "a" if wrong_key == "b" else "b"
    for u in users[:3]:
        answer(project, u, suspect, right)
    flag = KnownAnswerFlag.objects.get(item=suspect)
    assert flag.status == "open" and flag.suggested_label == right and flag.p_key_correct < 0.5
    assert flag.evidence["disagreeing"] == 3 and flag.model_version == "known-audit-1"
    suspect.refresh_from_db()
    assert suspect.status == Item.Status.EXHAUSTED  # out of the check rotation
    # an answer arriving meanwhile is held: no effect on the posterior
    before = AnnotatorQuality.objects.get(project=project, annotator=users[3])
    held = answer(project, users[3], suspect, right)
    held.refresh_from_db()
    assert held.correct is None and held.scored_at is not None
    assert AnnotatorQuality.objects.get(project=project, annotator=users[3]).checks == before.checks
    llr_before = GatingState.objects.get(project=project, annotator=users[0]).llr

    ops = staff_user()
    with pytest.raises(ValidationError):
        quality_services.known_flag_resolve(flag_id=flag.pk, user=ops, action="correct", new_label=wrong_key)
    flag = quality_services.known_flag_resolve(flag_id=flag.pk, user=ops, action="correct", new_label=right)
    assert flag.status == "corrected" and flag.rescored_answers == 4
    suspect.refresh_from_db()
    assert (suspect.known_label, suspect.status) == (right, Item.Status.OPEN)
    assert all(a.correct for a in Answer.objects.filter(item=suspect))
    aq0 = AnnotatorQuality.objects.get(project=project, annotator=users[0])
    assert (aq0.checks, aq0.checks_correct) == (13, 13)
    assert GatingState.objects.get(project=project, annotator=users[0]).llr <= llr_before
    aq3 = AnnotatorQuality.objects.get(project=project, annotator=users[3])
    assert (aq3.checks, aq3.checks_correct) == (before.checks + 1, before.checks_correct + 1)
    with pytest.raises(ValidationError):  # resolving twice is refused
        quality_services.known_flag_resolve(flag_id=flag.pk, user=ops, action="keep")


@pytest.mark.django_db(transaction=True)
def test_weak_annotators_disagreeing_do_not_flag_a_key():
    project = setup_project(n_known=4)
    k = Item.objects.filter(project=project, is_known=True).first()
    for i in range(4):
        u = worker(project, f"w{i}")
        answer(project, u, k, "a" if k.known_label == "b" else "b")
    assert not KnownAnswerFlag.objects.exists()


# --- ops pages ---------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_ops_pages_show_ban_rate_queue_and_flags_and_resolve(client):
    project = setup_project(max_answers=3)
    users = [worker(project, f"p{i}") for i in range(3)]
    item = _exhaust(project, Item.objects.filter(project=project, is_known=False).first(), users)
    Membership.objects.filter(project=project, annotator=users[0]).update(standing="revoked")
    ops = staff_user()
    client.force_login(ops)
    page = client.get(f"/ops/projects/{project.pk}/", follow=True).content.decode()  # → the dashboard
    assert "1 of 3" in page and 'id="ban-flag"' in page and "Expert queue (1)" in page
    assert "1/3 (" in client.get("/ops/", follow=True).content.decode()
    q = client.get(f"/ops/projects/{project.pk}/expert/")
    assert q.status_code == 200 and item.external_id in q.content.decode()
    bad = client.post(f"/ops/projects/{project.pk}/expert/", {"item": item.pk, "label": "zebra"})
    assert bad.status_code == 400 and "not one of this project" in bad.content.decode()
    other = setup_project()
    wrong_project = client.post(f"/ops/projects/{other.pk}/expert/", {"item": item.pk, "label": "a"})
    assert wrong_project.status_code == 400
    ok = client.post(f"/ops/projects/{project.pk}/expert/", {"item": item.pk, "label": "b"})
    assert ok.status_code == 302
    assert Item.objects.get(pk=item.pk).status == Item.Status.ACCEPTED
    flags = client.get(f"/ops/projects/{project.pk}/known-flags/")
    assert flags.status_code == 200 and "No flagged keys" in flags.content.decode()
    assert client.post(f"/ops/projects/{project.pk}/known-flags/", {"flag": "x"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_paused_annotator_is_sent_to_the_tutorial_and_resumes_after_it(client):
    """A pause blocks tasks and points to the tutorial; going through it (the web flow)
    makes the annotator active again with a note."""
    from workforce import services as wf_services
    from workforce.models import AnnotatorProfile

    project = setup_project()
    u = worker(project, "pz")
    AnnotatorProfile.objects.create(user=u, display_name="pz")
    m = Membership.objects.get(project=project, annotator=u)
    wf_services.membership_standing_set(membership=m, standing="paused", reason="Paused: PZREASON")
    client.force_login(u)
    resp = client.get(f"/projects/{project.pk}/task/")
    page = resp.content.decode()
    assert resp.status_code == 200 and 'name="lease_id"' not in page and "/tutorial/" in page
    steps = project.examples.filter(role="tutorial").count()
    for step in range(1, steps + 1):
        client.post(f"/projects/{project.pk}/tutorial/?step={step}", {"label": "a"})
    m.refresh_from_db()
    assert m.standing == "active" and "Back from the tutorial" in m.standing_reason and "PZREASON" in m.standing_reason
    assert 'name="lease_id"' in client.get(f"/projects/{project.pk}/task/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_ops_reinstatement_restarts_the_test_and_is_noted():
    """A revoked annotator reinstated by ops (the workforce appeal flow sets the standing) is not
    re-revoked by their old evidence on the next check: the walk restarts at 0, noted."""
    from quality.models import GatingDecision
    from workforce import services as wf_services

    project = setup_project(n_known=16)
    u = worker(project, "ri")
    knowns = iter(Item.objects.filter(project=project, is_known=True).order_by("id"))
    m = Membership.objects.get(project=project, annotator=u)
    while m.standing != "revoked":
        k = next(knowns)
        answer(project, u, k, "a" if k.known_label == "b" else "b")
        m.refresh_from_db()
        if m.standing == "paused":
            wf_services.tutorial_complete(membership=m)
            m.refresh_from_db()
    assert GatingState.objects.get(project=project, annotator=u).llr > 0
    wf_services.membership_standing_set(membership=m, standing="active", reason="Reinstated by ops after appeal")
    k = next(knowns)
    answer(project, u, k, "a" if k.known_label == "b" else "b")  # one more wrong check
    m.refresh_from_db()
    st = GatingState.objects.get(project=project, annotator=u)
    assert m.standing == "active" and 0 < st.llr < 1
    k = next(knowns)
    answer(project, u, k, k.known_label)
    assert GatingDecision.objects.filter(project=project, annotator=u).count() == 4  # warned, paused, warned, revoked
