"""The workbench's JSON loop (issue 9, i9json): ``task_json`` records the answer as the page's form
does and answers with the next task as JSON, through the real HTTP client with CSRF checks on.
Bad input is a 400 with field errors and nothing stored; the lease, gating and idempotency rules
are the form's; the exact query budget; and the JSON tells a hidden check from nothing."""
from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Lease
from tests.conftest import requires_postgres
from tests.factories import annotator_working
from tests.task_types.specs import spec
from tests.web.conftest import form_of, set_rate, task_url
from workforce import services as wf_services
from workforce.models import Membership

pytestmark = pytest.mark.django_db


def json_url(project_id: int) -> str:
    return reverse("workforce:task_json", args=[project_id])


@pytest.fixture
def csrf_client(annotator):
    """The browser's view of it: CSRF enforced, the token from the page sent in the header."""
    c = Client(enforce_csrf_checks=True)
    c.force_login(annotator)
    return c


def page_form(client, project_id: int) -> dict:
    return form_of(client.get(task_url(project_id)).content.decode())


def post_json(client, project_id: int, form: dict, **extra):
    """What workbench.js sends: the form's fields, urlencoded, with X-CSRFToken."""
    body = {k: v for k, v in {**form, **extra}.items() if v is not None}
    return client.post(json_url(project_id), body, HTTP_X_CSRFTOKEN=form.get("csrfmiddlewaretoken", ""),
                       HTTP_ACCEPT="application/json")


def test_submit_answers_with_the_next_task_as_json(csrf_client, working, annotator):
    set_rate(working, 0.0)
    first = page_form(csrf_client, working.project_id)
    resp = post_json(csrf_client, working.project_id, first, label="positive", visible_ms="4200", pastes="1", blurs="2")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/json"
    data = resp.json()
    assert data["state"] == "task" and data["counted"] is True and data["saved"] == "Answer saved. Here is the next one."
    answer = Answer.objects.get(annotator=annotator)
    assert answer.signals == {"visible_ms": 4200, "pastes": 1, "blurs": 2} and answer.duration_ms is not None
    lease = Lease.objects.get(pk=data["lease_id"])
    assert lease.state == Lease.State.ACTIVE and lease.item_id != answer.item_id and str(lease.pk) != first["lease_id"]
    assert lease.item.data["text"] in data["content_html"] and 'class="item-text"' in data["content_html"]
    assert data["seconds_left"] > 0 and data["expires_at"] == lease.expires_at.isoformat()
    assert set(data) == {"state", "lease_id", "client_key", "started", "seconds_left", "expires_at", "expires_at_text",
                         "content_html", "warning", "saved", "counted"}
    # the next answer goes in with the values the JSON brought (no page in between)
    nxt = {**first, "lease_id": str(data["lease_id"]), "client_key": data["client_key"], "started": data["started"]}
    again = post_json(csrf_client, working.project_id, nxt, label="negative")
    assert again.status_code == 200 and again.json()["state"] == "task"
    assert Answer.objects.filter(annotator=annotator).count() == 2


def test_csrf_stays_on(csrf_client, working, annotator):
    form = page_form(csrf_client, working.project_id)
    resp = csrf_client.post(json_url(working.project_id), {**{k: v for k, v in form.items() if k != "csrfmiddlewaretoken"},
                                                         "label": "positive"})
    assert resp.status_code == 403
    assert not Answer.objects.filter(annotator=annotator).exists()


@pytest.mark.parametrize("change,field", [
    ({"lease_id": None}, "lease_id"),
    ({"lease_id": "abc"}, "lease_id"),
    ({"client_key": None}, "client_key"),
    ({"client_key": "k" * 65}, "client_key"),
    ({"label": ""}, "label"),
    ({"label": "", "value": "{not json"}, "value"),
    ({"label": "sideways"}, "label"),
])
def test_bad_input_is_a_400_with_field_errors_and_nothing_stored(csrf_client, working, annotator, change, field):
    form = {**page_form(csrf_client, working.project_id), "label": "positive", **change}
    resp = post_json(csrf_client, working.project_id, form)
    assert resp.status_code == 400, resp.content
    errors = resp.json()["errors"]
    assert field in errors and all(isinstance(m, str) and m for m in errors[field])
    assert not Answer.objects.filter(annotator=annotator).exists()
    assert Lease.objects.get(pk=int(page_form(csrf_client, working.project_id)["lease_id"])).state == Lease.State.ACTIVE


def test_an_expired_lease_is_a_409_and_nothing_stored(csrf_client, working, annotator):
    form = page_form(csrf_client, working.project_id)
    Lease.objects.filter(pk=form["lease_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    resp = post_json(csrf_client, working.project_id, form, label="positive")
    assert resp.status_code == 409 and resp.json()["errors"]["lease"]
    assert not Answer.objects.filter(annotator=annotator).exists()


def test_someone_elses_lease_is_a_409(csrf_client, working, annotator, make_annotator, qualify):
    other = make_annotator("other")
    qualify(working.project, other)
    theirs = Client()
    theirs.force_login(other)
    their_lease = page_form(theirs, working.project_id)["lease_id"]
    form = page_form(csrf_client, working.project_id)
    resp = post_json(csrf_client, working.project_id, form, lease_id=their_lease, label="positive")
    assert resp.status_code == 409 and resp.json()["errors"]["lease"]
    assert not Answer.objects.exists()


def test_another_projects_lease_is_stored_under_its_own_project(csrf_client, annotator, working, make_project, qualify):
    """As on the page (test_task_loop): a lease of another project of the annotator's is answered
    under that project, never under this one; the next task is this project's."""
    other = qualify(make_project(), annotator)
    set_rate(working, 0.0)
    set_rate(other, 0.0)
    here = page_form(csrf_client, working.project_id)
    there = page_form(csrf_client, other.project_id)
    resp = post_json(csrf_client, working.project_id, {**here, "lease_id": there["lease_id"]}, label="positive")
    assert resp.status_code == 200
    answer = Answer.objects.get(annotator=annotator)
    assert answer.project_id == other.project_id
    assert Lease.objects.get(pk=resp.json()["lease_id"]).project_id == working.project_id


def test_a_paused_annotator_is_refused_and_sent_to_the_page(csrf_client, working, annotator):
    form = page_form(csrf_client, working.project_id)
    Membership.objects.filter(pk=working.pk).update(standing=Membership.Standing.PAUSED)
    resp = post_json(csrf_client, working.project_id, form, label="positive")
    assert resp.status_code == 403
    data = resp.json()
    assert data["state"] == "blocked" and data["reload"] == task_url(working.project_id) and data["errors"]["membership"]
    assert not Answer.objects.filter(annotator=annotator).exists()


def test_a_suspension_after_the_answer_ends_the_loop(csrf_client, working, annotator, staff):
    """Suspended between two requests: the suspension released the lease in hand, so the answer is
    refused as on the page (409: the script offers a fresh task, and the page says why) and no
    new lease is handed out."""
    form = page_form(csrf_client, working.project_id)
    wf_services.annotator_suspend(annotator=annotator, actor=staff, reason="Test: suspended.")
    resp = post_json(csrf_client, working.project_id, form, label="positive")
    assert resp.status_code == 409 and resp.json()["errors"]["lease"]
    assert not Lease.objects.filter(annotator=annotator, state=Lease.State.ACTIVE).exists()
    assert not Answer.objects.filter(annotator=annotator).exists()


def test_the_same_client_key_twice_stores_one_answer(csrf_client, working, annotator):
    set_rate(working, 0.0)
    form = {**page_form(csrf_client, working.project_id), "label": "negative"}
    first = post_json(csrf_client, working.project_id, form).json()
    second = post_json(csrf_client, working.project_id, form).json()
    assert first["counted"] is True and second["counted"] is False
    assert second["saved"] == "That answer was already saved. Here is the next one."
    assert second["lease_id"] == first["lease_id"]  # the task already in hand, not a second one
    assert Answer.objects.filter(annotator=annotator).count() == 1


def test_the_queue_running_dry_sends_the_page(csrf_client, make_project, annotator, qualify):
    project = make_project(items=1, known=1)
    set_rate(qualify(project, annotator), 0.0)
    form = page_form(csrf_client, project.pk)
    data = post_json(csrf_client, project.pk, form, label="positive").json()
    assert data == {"state": "empty", "reload": task_url(project.pk),
                    "saved": "Answer saved. Here is the next one.", "counted": True}


def test_not_logged_in_and_wrong_method(client, working):
    resp = client.post(json_url(working.project_id), {"lease_id": "1"})
    assert resp.status_code == 401 and resp.json()["reload"].startswith(settings.LOGIN_URL)
    client.force_login(working.annotator)
    assert client.get(json_url(working.project_id)).status_code == 405


def test_the_warned_standing_comes_with_the_next_task(csrf_client, working):
    form = page_form(csrf_client, working.project_id)
    Membership.objects.filter(pk=working.pk).update(standing=Membership.Standing.WARNED, standing_reason="Check your work.")
    assert post_json(csrf_client, working.project_id, form, label="positive").json()["warning"] == "Check your work."


def _normalised(data: dict, text: str) -> dict:
    data = {k: v for k, v in data.items() if k not in ("lease_id", "client_key", "started", "seconds_left", "expires_at",
                                                      "expires_at_text")}
    data["content_html"] = data["content_html"].replace(text, "TEXT")
    return data


def test_the_json_of_a_hidden_check_is_the_json_of_a_regular_item(as_check_and_regular, make_project):
    """The no-leak rule on the JSON path: same keys, same values but the item's text and the
    per-lease values; no id, known-ness or repeat-ness anywhere."""
    project = make_project(items=6, known=4)

    def submit(client, form):
        data = post_json(client, project.pk, form, label="positive").json()
        return data, data["lease_id"]

    out = {}
    for kind, (data, lease, _) in as_check_and_regular(project, submit).items():
        raw = json.dumps(data)
        assert str(lease.item_id) not in re.sub(r'"(lease_id|client_key|started|seconds_left|expires_at\w*)": "?[^",]*"?', "", raw)
        assert "known" not in raw.lower() and "repeat" not in raw.lower() and "check" not in raw.lower()
        out[kind] = _normalised(data, lease.item.data["text"])
    assert out["check"] == out["regular"]


# --- the task types: what each one's widget needs -------------------------------------------------

@pytest.fixture
def typed(organization):
    def build(task_type: str, items: int = 3):
        s = spec(task_type)
        project = task_services.project_create(
            organization=organization, name=f"{task_type} json", instructions="Answer carefully.",
            accuracy_target=0.9, task_type=task_type, labels=s["labels"], type_config=s["type_config"],
            examples=[task_services.ExampleIn(**ex) for ex in s["examples"]],
        )
        task_services.items_upload(project=project, rows=[{"external_id": f"i{i}", "data": s["item_data"](i)} for i in range(items)])
        return task_services.project_launch(project=project)

    return build


def _typed_loop(typed, annotator, task_type: str, answer: dict) -> tuple[dict, dict]:
    project = typed(task_type)
    set_rate(annotator_working(project, annotator), 0.0)
    c = Client(enforce_csrf_checks=True)
    c.force_login(annotator)
    form = page_form(c, project.pk)
    resp = post_json(c, project.pk, form, label="", **answer)
    assert resp.status_code == 200, resp.content
    return resp.json(), form


def test_bbox_sends_the_next_image_and_whether_to_report_its_size(typed, annotator):
    data, _ = _typed_loop(typed, annotator, "bbox", {"value": json.dumps([{"label": "square", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]),
                                                     "image_size": json.dumps({"width": 640, "height": 480})})
    item = Lease.objects.get(pk=data["lease_id"]).item
    assert data["widget"] == {"image_url": item.data[spec("bbox")["type_config"]["image_field"]],
                              "report_size": "width" not in item.data}
    answered = Answer.objects.get(annotator=annotator).item
    assert answered.data.get("width") == 640  # the image size the widget reported was kept (i6r)


def test_most_similar_sends_its_widget_fragment(typed, annotator):
    data, _ = _typed_loop(typed, annotator, "most_similar", {"value": "2"})
    assert 'data-tw="most_similar"' in data["widget_html"] and 'data-key="1"' in data["widget_html"]
    assert "widget" not in data


@pytest.mark.parametrize("task_type,value", [("multi_choice", '["red"]'), ("text", '"Paris"'), ("rating", "4")])
def test_the_item_independent_widgets_get_content_only(typed, annotator, task_type, value):
    data, _ = _typed_loop(typed, annotator, task_type, {"value": value})
    assert data["state"] == "task" and "widget" not in data and "widget_html" not in data


# --- the query budget --------------------------------------------------------------------------------

@requires_postgres
def test_query_budget_of_the_json_submit(annotator_client, working, django_assert_num_queries):
    """The same statements as the page's submit with the next task (test_task_loop): the one
    joined user + membership + project + profile row, the one-statement submit (in a savepoint
    here, as the test runs in a transaction), then the one next-task statement (the live leases,
    the pick, the lease insert). Nothing for messages or a template."""
    session = 0 if settings.SESSION_ENGINE == "cadre.sessions" else 1
    set_rate(working, 0.0)
    url = task_url(working.project_id)
    annotator_client.get(url)  # warm: the project's id range, the expiry throttle
    Lease.objects.filter(annotator=working.annotator).update(state=Lease.State.RELEASED)
    Item.objects.update(assigned=0)
    form = form_of(annotator_client.get(url).content.decode())
    with django_assert_num_queries(session + 1 + 3 + 1):
        resp = post_json(annotator_client, working.project_id, form, label="positive")
    assert resp.status_code == 200 and resp.json()["lease_id"] != int(form["lease_id"])
    assert Answer.objects.filter(client_key=form["client_key"]).count() == 1
    assert uuid.UUID(resp.json()["client_key"])


def test_task_forms_share_their_fields_but_not_their_data_or_errors():
    """Issue 9: ``TaskForm`` instances share the class's fields instead of deep-copying them on
    every annotation; each instance still validates its own data into its own errors."""
    from workforce.forms import TaskForm

    bad = TaskForm({"lease_id": "x", "client_key": "k" * 65, "started": "s"})
    good = TaskForm({"lease_id": "7", "client_key": "k", "started": "s", "label": " cat "})
    assert good.fields["lease_id"] is bad.fields["lease_id"]
    assert not bad.is_valid() and set(bad.errors) == {"lease_id", "client_key"}
    assert good.is_valid() and good.cleaned_data["lease_id"] == 7 and good.cleaned_data["label"] == "cat"
    assert set(bad.errors) == {"lease_id", "client_key"} and bad.cleaned_data.get("lease_id") is None
    good.fields = dict(good.fields)  # an instance replacing its fields does not touch the class's
    del good.fields["label"]
    assert "label" in TaskForm.base_fields and "label" in TaskForm().fields
