"""Annotator web app and ops pages through Django's test client, on the real database.

Data is built with the services (tasks_app.services, workforce.services); fixtures are in
tests/web/conftest.py.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from quality.models import GatingDecision
from tasks_app import services as task_services
from tasks_app.models import Answer, Example, Item, Lease
from workforce import services as wf_services
from workforce.models import AnnotatorProfile, Membership, QualifierAttempt


# The password tests/web/conftest.py gives its annotators (conftest is not importable).
PASSWORD = "correct-horse-battery-staple"

User = get_user_model()
pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"workforce:{name}", args=args)


def page(resp) -> str:
    return resp.content.decode()


def messages_of(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]] if resp.context and "messages" in resp.context else []


# --- sign-up, login ---------------------------------------------------------------------------

def test_signup_creates_annotator_and_logs_in(client):
    resp = client.post(
        url("signup"),
        {"username": "newbie", "display_name": "New Bie", "email": "", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert resp.status_code == 302 and resp.url == url("home")
    user = User.objects.get(username="newbie")
    assert AnnotatorProfile.objects.get(user=user).display_name == "New Bie"
    home = client.get(url("home"))
    assert home.status_code == 200
    assert home.context["user"] == user


def test_signup_taken_username_shows_error_and_creates_nothing(client, make_annotator):
    make_annotator("taken")
    before = User.objects.count()
    resp = client.post(url("signup"), {"username": "TAKEN", "password": PASSWORD, "password_again": PASSWORD})
    assert resp.status_code == 200
    assert "That user name is taken." in page(resp)
    assert resp.context["form"].errors["username"]
    assert User.objects.count() == before
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "password, again, field",
    [("short", "short", "password"), ("password", "password", "password"), (PASSWORD, PASSWORD + "x", "password_again")],
)
def test_signup_bad_password_shows_form_errors(client, password, again, field):
    resp = client.post(url("signup"), {"username": "someone", "password": password, "password_again": again})
    assert resp.status_code == 200
    assert resp.context["form"].errors[field]
    assert not User.objects.filter(username="someone").exists()
    assert not AnnotatorProfile.objects.exists()


def test_signup_page_has_labels_and_csrf(client):
    html = page(client.get(url("signup")))
    assert 'name="csrfmiddlewaretoken"' in html
    for field in ("username", "password", "password_again"):
        assert f'<label for="id_{field}">' in html


@pytest.mark.parametrize("name, args", [("home", ()), ("project", (1,)), ("tutorial", (1,)), ("qualifier", (1,)), ("task", (1,))])
def test_annotator_pages_require_login(client, name, args):
    target = url(name, *args)
    resp = client.get(target)
    assert resp.status_code == 302
    assert resp.url.startswith("/login/?next=")


def test_login_and_logout(client, annotator):
    assert client.get(url("login")).status_code == 200
    resp = client.post(url("login"), {"username": "annie", "password": PASSWORD})
    assert resp.status_code == 302 and resp.url == "/"
    assert client.get(url("home")).status_code == 200
    assert client.get(url("logout")).status_code == 405  # logout is POST only
    resp = client.post(url("logout"))
    assert resp.status_code == 302
    assert client.get(url("home")).status_code == 302


def test_login_wrong_password_shows_error(client, annotator):
    resp = client.post(url("login"), {"username": "annie", "password": "nope-nope-nope"})
    assert resp.status_code == 200
    assert "Please enter a correct username and password" in page(resp)


# --- home, project page -----------------------------------------------------------------------

def test_home_lists_live_projects_with_stage(annotator_client, make_project, annotator, qualify):
    live = make_project(name="Live one")
    draft = make_project(name="Draft one", launch=False)
    other = make_project(name="Joined one")
    qualify(other, annotator)
    html = page(annotator_client.get(url("home")))
    assert "Live one" in html and "Joined one" in html
    assert "Draft one" not in html
    assert "Not started" in html  # no membership yet on "Live one"
    assert url("task", other.pk) in html  # working on "Joined one"
    assert url("project", live.pk) in html
    assert annotator_client.get(url("project", draft.pk)).status_code == 404


def test_project_page_creates_membership_and_shows_status(annotator_client, project, annotator):
    assert not Membership.objects.filter(annotator=annotator).exists()
    resp = annotator_client.get(url("project", project.pk))
    assert resp.status_code == 200
    m = Membership.objects.get(annotator=annotator, project=project)
    html = page(resp)
    assert "Choose the overall sentiment of the review." in html
    for label in project.labels:
        assert label in html
    assert "Tutorial" in html and "Active" in html
    assert "0 used, 2 left" in html
    assert url("tutorial", project.pk) in html
    assert url("task", project.pk) not in html
    assert m.stage == Membership.Stage.TUTORIAL


def test_project_page_shows_standing_reason(annotator_client, working):
    wf_services.membership_standing_set(membership=working, standing="warned", reason="Warning: REASON-MARKER-42.")
    html = page(annotator_client.get(url("project", working.project_id)))
    assert "Warned" in html and "REASON-MARKER-42" in html


# --- tutorial --------------------------------------------------------------------------------

def test_tutorial_shows_example_without_answer(annotator_client, project, web_data):
    resp = annotator_client.get(url("tutorial", project.pk) + "?step=1")
    html = page(resp)
    assert web_data.tutorial[0][0] in html
    assert web_data.tutorial[0][2] not in html  # explanation only after answering
    assert 'name="csrfmiddlewaretoken"' in html
    assert "example 1 of 2" in html


def test_tutorial_right_answer_instant_feedback(annotator_client, project, web_data):
    resp = annotator_client.post(url("tutorial", project.pk) + "?step=1", {"label": "positive"})
    html = page(resp)
    assert resp.status_code == 200
    assert "Right!" in html
    assert web_data.tutorial[0][2] in html
    assert "?step=2" in html


def test_tutorial_wrong_answer_instant_feedback(annotator_client, project, web_data):
    resp = annotator_client.post(url("tutorial", project.pk) + "?step=1", {"label": "negative"})
    html = page(resp)
    assert "Not quite." in html
    assert "the correct answer is <strong>positive</strong>" in html
    assert web_data.tutorial[0][2] in html


def test_tutorial_bad_label_is_a_form_error(annotator_client, project):
    resp = annotator_client.post(url("tutorial", project.pk) + "?step=1", {"label": "maybe"})
    assert resp.status_code == 200
    assert "Right!" not in page(resp) and "Not quite." not in page(resp)
    assert resp.context["form"].errors


def test_tutorial_completion_opens_qualifier(annotator_client, project, annotator, web_data):
    qual_url = url("qualifier", project.pk)
    annotator_client.get(url("project", project.pk))
    # Qualifier is closed before the tutorial.
    html = page(annotator_client.get(qual_url))
    assert "Go through the tutorial first" in html
    assert web_data.qualifier[0][0] not in html
    annotator_client.post(url("tutorial", project.pk) + "?step=1", {"label": "negative"})
    m = Membership.objects.get(annotator=annotator)
    assert m.stage == Membership.Stage.TUTORIAL and m.tutorial_completed_at is None
    resp = annotator_client.post(url("tutorial", project.pk) + "?step=2", {"label": "negative"})
    assert "Tutorial complete" in page(resp)
    m.refresh_from_db()
    assert m.stage == Membership.Stage.QUALIFIER and m.tutorial_completed_at is not None
    html = page(annotator_client.get(qual_url))
    assert web_data.qualifier[0][0] in html
    # Repeatable: restart works and changes nothing.
    resp = annotator_client.get(url("tutorial", project.pk) + "?restart=1", follow=True)
    assert web_data.tutorial[0][0] in page(resp)
    m.refresh_from_db()
    assert m.stage == Membership.Stage.QUALIFIER


def test_tutorial_last_step_alone_does_not_complete(annotator_client, project, annotator):
    resp = annotator_client.post(url("tutorial", project.pk) + "?step=2", {"label": "negative"})
    assert "You skipped some examples" in page(resp)
    assert Membership.objects.get(annotator=annotator).tutorial_completed_at is None


# --- qualifier -------------------------------------------------------------------------------

def _through_tutorial(project, user):
    m = wf_services.membership_join(project=project, annotator=user)
    return wf_services.tutorial_complete(membership=m)


def _qualifier_post(project, *, wrong: int = 0) -> dict:
    data = {}
    for i, ex in enumerate(Example.objects.filter(project=project, role="qualifier").order_by("position")):
        other = [lab for lab in project.labels if lab != ex.label][0]
        data[f"q-{ex.pk}"] = other if i < wrong else ex.label
    return data


def test_qualifier_form_gives_no_feedback_before_submit(annotator_client, project, annotator, web_data):
    _through_tutorial(project, annotator)
    resp = annotator_client.get(url("qualifier", project.pk))
    html = page(resp)
    for text, _, explanation in web_data.qualifier:
        assert text in html
        assert explanation not in html
    assert "correct answer" not in html.lower()
    assert 'name="csrfmiddlewaretoken"' in html
    assert html.count('type="radio"') == len(web_data.qualifier) * len(project.labels)
    assert "checked" not in html


def test_qualifier_pass(annotator_client, project, annotator, web_data):
    _through_tutorial(project, annotator)
    resp = annotator_client.post(url("qualifier", project.pk), _qualifier_post(project), follow=True)
    html = page(resp)
    assert resp.redirect_chain[-1][0] == url("qualifier_result", project.pk, 1)
    assert "passed" in html and "3 / 3" in html and "Pass mark" in html and "80%" in html
    for _, _, explanation in web_data.qualifier:
        assert explanation in html  # per-question review after grading
    m = Membership.objects.get(annotator=annotator)
    assert m.stage == Membership.Stage.WORKING
    assert url("task", project.pk) in html


def test_qualifier_fail_wait_then_fail_again(annotator_client, project, annotator, web_data):
    _through_tutorial(project, annotator)
    resp = annotator_client.post(url("qualifier", project.pk), _qualifier_post(project, wrong=2), follow=True)
    html = page(resp)
    assert "not passed" in html and "1 / 3" in html and "Fail" in html
    assert "the correct answer is <strong>" in html
    assert "Next attempt opens" in html
    m = Membership.objects.get(annotator=annotator)
    assert m.stage == Membership.Stage.QUALIFIER and m.next_attempt_at is not None

    # Waiting period: the form is closed and a forced submit is refused by the service, with a message.
    html = page(annotator_client.get(url("qualifier", project.pk)))
    assert "Your next attempt opens at" in html
    assert web_data.qualifier[0][0] not in html
    resp = annotator_client.post(url("qualifier", project.pk), _qualifier_post(project))
    assert resp.status_code == 200
    assert "Your next attempt is not open yet." in messages_of(resp)
    assert QualifierAttempt.objects.filter(membership=m).count() == 1
    html = page(annotator_client.get(url("project", project.pk)))
    assert "Next attempt opens" in html and "1 used, 1 left" in html

    # The wait is over: second failure closes the project to them.
    Membership.objects.filter(pk=m.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    resp = annotator_client.post(url("qualifier", project.pk), _qualifier_post(project, wrong=1), follow=True)
    assert "not passed" in page(resp)
    m.refresh_from_db()
    assert m.stage == Membership.Stage.FAILED and m.qualifier_attempts == 2
    html = page(annotator_client.get(url("project", project.pk)))
    assert "Did not qualify" in html
    resp = annotator_client.post(url("qualifier", project.pk), _qualifier_post(project))
    assert "No qualifier attempts left on this project." in messages_of(resp)
    resp = annotator_client.get(url("task", project.pk))
    assert "You did not qualify" in page(resp)
    assert not Lease.objects.exists()


def test_qualifier_missing_answers_is_a_message_not_500(annotator_client, project, annotator):
    _through_tutorial(project, annotator)
    data = _qualifier_post(project)
    data.pop(next(iter(data)))
    resp = annotator_client.post(url("qualifier", project.pk), data)
    assert resp.status_code == 200
    # The number is the question's number on the page (the 2 tutorial examples come first in position).
    assert messages_of(resp) == ["Question 1 has no answer."]
    # nothing graded; the form is shown again with the sitting's draw (issue 3B), not a new one
    assert not QualifierAttempt.objects.filter(submitted_at__isnull=False).exists()
    assert QualifierAttempt.objects.filter(submitted_at__isnull=True).count() == 1


def test_qualifier_before_tutorial_is_refused(annotator_client, project, annotator):
    annotator_client.get(url("project", project.pk))
    resp = annotator_client.post(url("qualifier", project.pk), _qualifier_post(project))
    assert resp.status_code == 200
    assert "Go through the tutorial first." in messages_of(resp)
    assert not QualifierAttempt.objects.exists()


def test_qualifier_result_of_someone_else_is_404(client, project, annotator, make_annotator, qualify):
    qualify(project, annotator)
    other = make_annotator()
    client.force_login(other)
    assert client.get(url("qualifier_result", project.pk, 1)).status_code == 404


# --- task page -------------------------------------------------------------------------------

def _task_form(html: str) -> dict:
    def value(name):
        m = re.search(rf'name="{name}" value="([^"]*)"', html)
        assert m, f"no {name} in the task form"
        return m.group(1)

    return {"lease_id": value("lease_id"), "client_key": value("client_key"), "started": value("started")}


def _set_rate(membership, rate):
    wf_services.membership_check_rate_set(membership=membership, rate=rate)


def test_task_flow_get_submit_next(annotator_client, working, annotator):
    _set_rate(working, 0.0)
    url_task = url("task", working.project_id)
    resp = annotator_client.get(url_task)
    html = page(resp)
    assert resp.status_code == 200
    form = _task_form(html)
    lease = Lease.objects.get(pk=form["lease_id"])
    assert lease.annotator == annotator and lease.state == Lease.State.ACTIVE
    assert lease.item.data["text"] in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "This task is yours until" in html
    assert 'data-key="1"' in html and 'data-key="2"' in html
    assert '<label class="choice"><input type="radio" name="label" value="positive"' in html

    resp = annotator_client.post(url_task, {**form, "label": "positive"})
    assert resp.status_code == 302 and resp.url == url_task
    answer = Answer.objects.get(annotator=annotator)
    assert answer.item_id == lease.item_id and answer.label == "positive"
    assert answer.client_key == form["client_key"]
    assert answer.duration_ms is not None and 0 <= answer.duration_ms < 60_000
    lease.refresh_from_db()
    assert lease.state == Lease.State.SUBMITTED

    resp = annotator_client.get(url_task)
    assert "Answer saved." in page(resp)
    form2 = _task_form(page(resp))
    assert form2["lease_id"] != form["lease_id"]
    assert Lease.objects.get(pk=form2["lease_id"]).item_id != lease.item_id


def test_reload_keeps_the_same_lease(annotator_client, working):
    url_task = url("task", working.project_id)
    first = _task_form(page(annotator_client.get(url_task)))
    second = _task_form(page(annotator_client.get(url_task)))
    assert first["lease_id"] == second["lease_id"]
    assert first["client_key"] != second["client_key"]


def test_double_submit_of_same_form_makes_one_answer(annotator_client, working, annotator):
    url_task = url("task", working.project_id)
    form = _task_form(page(annotator_client.get(url_task)))
    data = {**form, "label": "negative"}
    r1 = annotator_client.post(url_task, data)
    r2 = annotator_client.post(url_task, data)
    assert r1.status_code == r2.status_code == 302
    assert Answer.objects.filter(annotator=annotator).count() == 1
    assert "That answer was already saved." in page(annotator_client.get(url_task))


def test_submit_without_label_keeps_the_task(annotator_client, working, annotator):
    url_task = url("task", working.project_id)
    form = _task_form(page(annotator_client.get(url_task)))
    resp = annotator_client.post(url_task, form, follow=True)
    assert "Choose a label before submitting." in page(resp)
    assert _task_form(page(resp))["lease_id"] == form["lease_id"]
    resp = annotator_client.post(url_task, {**form, "label": "maybe"}, follow=True)
    assert "is not one of this project&#x27;s labels" in page(resp)
    assert not Answer.objects.exists()


def test_tampered_started_token_gives_no_duration(annotator_client, working, annotator):
    url_task = url("task", working.project_id)
    form = _task_form(page(annotator_client.get(url_task)))
    annotator_client.post(url_task, {**form, "started": form["started"] + "x", "label": "positive"})
    assert Answer.objects.get(annotator=annotator).duration_ms is None


def test_expired_lease_shows_message_and_fresh_task(annotator_client, working, annotator):
    _set_rate(working, 0.0)
    url_task = url("task", working.project_id)
    form = _task_form(page(annotator_client.get(url_task)))
    Lease.objects.filter(pk=form["lease_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    resp = annotator_client.post(url_task, {**form, "label": "positive"}, follow=True)
    html = page(resp)
    assert "no longer yours" in html and "Here is a fresh task." in html
    assert _task_form(html)["lease_id"] != form["lease_id"]
    assert not Answer.objects.exists()


def test_someone_elses_lease_is_refused(client, working, make_annotator, qualify):
    url_task = url("task", working.project_id)
    client.force_login(working.annotator)
    form = _task_form(page(client.get(url_task)))
    intruder = make_annotator()
    qualify(working.project, intruder)
    client.force_login(intruder)
    resp = client.post(url_task, {**form, "client_key": "k" * 32, "label": "positive"}, follow=True)
    assert "No such task for you." in page(resp)
    assert not Answer.objects.exists()


def test_nothing_left_page(annotator_client, make_project, annotator, qualify):
    project = make_project(items=1, known=1)
    m = qualify(project, annotator)
    _set_rate(m, 0.0)
    url_task = url("task", project.pk)
    form = _task_form(page(annotator_client.get(url_task)))
    annotator_client.post(url_task, {**form, "label": "positive"})
    resp = annotator_client.get(url_task)
    assert resp.status_code == 200
    assert "Nothing for you right now" in page(resp)
    assert 'name="lease_id"' not in page(resp)


def test_revoked_annotator_gets_no_task_and_sees_reason(annotator_client, working, annotator):
    url_task = url("task", working.project_id)
    form = _task_form(page(annotator_client.get(url_task)))
    wf_services.membership_standing_set(
        membership=working, standing="revoked", reason="Access revoked: REVOKE-REASON-7 of 10 checks wrong."
    )
    assert not Lease.objects.filter(state=Lease.State.ACTIVE).exists()  # released by the service
    resp = annotator_client.get(url_task)
    html = page(resp)
    assert resp.status_code == 200
    assert "Your access to this project was removed" in html
    assert "REVOKE-REASON-7" in html
    assert 'name="lease_id"' not in html
    assert not Lease.objects.filter(state=Lease.State.ACTIVE).exists()
    # Posting the old form is refused with a message, nothing stored.
    resp = annotator_client.post(url_task, {**form, "label": "positive"}, follow=True)
    assert "You cannot take tasks on this project." in page(resp)
    assert not Answer.objects.exists()
    assert "REVOKE-REASON-7" in page(annotator_client.get(url("project", working.project_id)))


@pytest.mark.parametrize("stage_steps, expected", [(0, "Go through the tutorial first"), (1, "Pass the qualifier first")])
def test_not_qualified_gets_no_task(annotator_client, project, annotator, stage_steps, expected):
    m = wf_services.membership_join(project=project, annotator=annotator)
    if stage_steps:
        wf_services.tutorial_complete(membership=m)
    html = page(annotator_client.get(url("task", project.pk)))
    assert expected in html
    assert not Lease.objects.exists()


def test_warned_annotator_sees_warning_on_task_page(annotator_client, working):
    wf_services.membership_standing_set(membership=working, standing="warned", reason="Warning: WARN-REASON-3.")
    html = page(annotator_client.get(url("task", working.project_id)))
    assert "WARN-REASON-3" in html and 'name="lease_id"' in html


def test_json_item_data_is_escaped(annotator_client, make_project, annotator, organization, qualify):
    project = make_project(items=0, known=1, launch=False)
    # straight into the table: the upload would refuse data shaped unlike the examples
    Item.objects.create(project=project, external_id="x-1", data={"html": "<script>alert('x')</script>", "n": 1})
    project = task_services.project_launch(project=project)
    m = qualify(project, annotator)
    _set_rate(m, 0.0)
    html = page(annotator_client.get(url("task", project.pk)))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert '<pre class="item-json">' in html


# --- hidden known-answer items look exactly like regular items --------------------------------

SECRET_FIELDS = ("is_known", "known_label", "known-", "external_id", "item_id", "item-0")


def _normalise(html: str, item_text: str) -> str:
    html = html.replace(item_text, "ITEM-TEXT")
    html = re.sub(r'name="(lease_id|client_key|started|csrfmiddlewaretoken)" value="[^"]*"', r'name="\1" value="X"', html)
    html = re.sub(r"<time [^>]*>[^<]*</time>", "<time>X</time>", html)
    return html


def test_known_item_page_is_identical_to_regular_item_page(annotator_client, working):
    url_task = url("task", working.project_id)
    _set_rate(working, 1.0)
    known_resp = annotator_client.get(url_task)
    known_lease = Lease.objects.get(pk=_task_form(page(known_resp))["lease_id"])
    assert known_lease.item.is_known

    task_services.leases_release(project=working.project, annotator=working.annotator)
    _set_rate(working, 0.0)
    regular_resp = annotator_client.get(url_task)
    regular_lease = Lease.objects.get(pk=_task_form(page(regular_resp))["lease_id"])
    assert not regular_lease.item.is_known

    known_html, regular_html = page(known_resp), page(regular_resp)
    for html, lease in ((known_html, known_lease), (regular_html, regular_lease)):
        assert lease.item.external_id not in html
        assert f'value="{lease.item_id}"' not in html or lease.item_id == lease.pk
        for secret in SECRET_FIELDS:
            assert secret not in html, secret
    assert known_resp.headers.get("Content-Type") == regular_resp.headers.get("Content-Type")
    assert _normalise(known_html, known_lease.item.data["text"]) == _normalise(regular_html, regular_lease.item.data["text"])

    # Submitting either answers the same way.
    r_regular = annotator_client.post(url_task, {**_task_form(regular_html), "label": "positive"})
    task_services.leases_release(project=working.project, annotator=working.annotator)
    _set_rate(working, 1.0)
    known_form = _task_form(page(annotator_client.get(url_task)))
    assert Lease.objects.get(pk=known_form["lease_id"]).item.is_known
    r_known = annotator_client.post(url_task, {**known_form, "label": "positive"})
    assert (r_known.status_code, r_known.url) == (r_regular.status_code, r_regular.url)


def test_known_labels_and_ids_never_on_any_annotator_page(client, project, annotator):
    """Walk every annotator page of a full journey; no known item's id or flags show."""
    client.force_login(annotator)
    known_items = list(Item.objects.filter(project=project, is_known=True))
    seen: list[str] = []

    def visit(resp):
        seen.append(page(resp))
        return resp

    visit(client.get(url("home")))
    visit(client.get(url("project", project.pk)))
    visit(client.get(url("tutorial", project.pk) + "?step=1"))
    visit(client.post(url("tutorial", project.pk) + "?step=1", {"label": "positive"}))
    visit(client.post(url("tutorial", project.pk) + "?step=2", {"label": "negative"}))
    visit(client.get(url("qualifier", project.pk)))
    visit(client.post(url("qualifier", project.pk), _qualifier_post(project), follow=True))
    for _ in range(6):
        resp = visit(client.get(url("task", project.pk)))
        if 'name="lease_id"' not in page(resp):
            break
        visit(client.post(url("task", project.pk), {**_task_form(page(resp)), "label": "positive"}, follow=True))
    visit(client.get(url("project", project.pk)))
    assert Answer.objects.filter(is_check=True).exists() and Answer.objects.filter(is_check=False).exists()
    for html in seen:
        for secret in ("is_known", "known_label", "is_check"):
            assert secret not in html
        for item in known_items:
            assert item.external_id not in html


# --- ops pages ---------------------------------------------------------------------------------

def test_ops_pages_for_staff(client, staff, working, django_capture_on_commit_callbacks):
    # Some scored answers so the tables have rows.
    c = Client()
    c.force_login(working.annotator)
    url_task = url("task", working.project_id)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            form = _task_form(page(c.get(url_task)))
            c.post(url_task, {**form, "label": "positive"})
    assert Answer.objects.filter(scored_at__isnull=False).count() == 3
    client.force_login(staff)
    resp = client.get(reverse("ops:index"), follow=True)  # /ops/ → the dashboards' overview
    assert resp.status_code == 200
    assert working.project.name in page(resp)
    resp = client.get(reverse("ops:project", args=[working.project_id]), follow=True)
    html = page(resp)
    assert resp.status_code == 200
    for text in ("Accuracy claim", "Sample size", "Certified", "Throughput", working.annotator.username, "Gating and ban rate"):
        assert text in html
    assert client.get(reverse("ops:project", args=[999999])).status_code == 404


def test_ops_shows_annotators_standing_stage_and_reason(client, staff, working, make_annotator, qualify):
    newcomer = make_annotator("newcomer-zed")
    wf_services.membership_join(project=working.project, annotator=newcomer)
    bad = make_annotator("revoked-rob")
    m = qualify(working.project, bad)
    wf_services.membership_standing_set(membership=m, standing="revoked", reason="Access revoked: ROB-REASON.")
    client.force_login(staff)
    html = page(client.get(reverse("ops:project", args=[working.project_id]), follow=True))
    rob = html[html.index('data-username="revoked-rob"'):]
    assert "<td>revoked</td>" in rob[:rob.index("</tr>")] and "ROB-REASON" in rob[:rob.index("</tr>")]
    zed = html[html.index('data-username="newcomer-zed"'):]
    assert "<td>tutorial</td>" in zed[:zed.index("</tr>")]
    assert f'data-username="{working.annotator.username}"' in html


def test_ops_shows_gating_decisions(client, staff, working):
    GatingDecision.objects.create(
        project=working.project, annotator=working.annotator, standing="warned", previous_standing="active",
        reason="DECISION-REASON-9", checks=4, checks_correct=1, accuracy=0.4, accuracy_lower=0.2, accuracy_upper=0.6, bar=0.75,
    )
    client.force_login(staff)
    html = page(client.get(reverse("ops:project", args=[working.project_id]), follow=True))
    assert "DECISION-REASON-9" in html and "active → warned" in html


@pytest.mark.parametrize("path_name", ["ops:index", "ops:project"])
def test_ops_pages_refused_to_annotators_and_anonymous(client, annotator, project, path_name):
    target = reverse(path_name, args=[project.pk] if path_name == "ops:project" else [])
    resp = client.get(target)
    assert resp.status_code == 302 and resp.url.startswith("/login/")
    client.force_login(annotator)
    assert client.get(target).status_code == 403


def test_admin_changelists_load_for_superuser(client, working):
    admin = User.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(admin)
    for model in ("tasks_app/project", "tasks_app/item", "tasks_app/answer", "tasks_app/lease", "tasks_app/example",
                  "tasks_app/organization", "workforce/membership", "workforce/annotatorprofile",
                  "workforce/qualifierattempt", "quality/gatingdecision", "quality/annotatorquality"):
        assert client.get(f"/admin/{model}/").status_code == 200, model
    assert client.get("/admin/tasks_app/answer/add/").status_code == 403
    assert client.get("/admin/quality/gatingdecision/add/").status_code == 403


# --- CSRF --------------------------------------------------------------------------------------

def test_posts_without_csrf_token_are_refused(working):
    c = Client(enforce_csrf_checks=True)
    c.force_login(working.annotator)
    project_id = working.project_id
    html = page(c.get(url("task", project_id)))
    assert 'name="csrfmiddlewaretoken"' in html
    form = _task_form(html)
    assert c.post(url("task", project_id), {**form, "label": "positive"}).status_code == 403
    assert c.post(url("tutorial", project_id) + "?step=1", {"label": "positive"}).status_code == 403
    assert c.post(url("qualifier", project_id), {}).status_code == 403
    assert c.post(url("logout")).status_code == 403
    assert Client(enforce_csrf_checks=True).post(url("signup"), {"username": "x"}).status_code == 403
    assert not Answer.objects.exists()
