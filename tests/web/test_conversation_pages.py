"""Conversation and workbench endpoints through the web stack (Django test client, PostgreSQL):
bad input gets 400 with field errors and writes nothing, someone else's conversation is a 404,
the progress line refuses a malformed session start."""
from __future__ import annotations

import pytest
from django.urls import reverse

from tasks_app.models import Conversation, Turn
from tasks_app.services import conversations as conv

pytestmark = pytest.mark.django_db

ROLES = [{"name": "Seller", "instructions": "Sell."}, {"name": "Buyer", "instructions": "Buy."}]
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def pair(client, make_project, make_annotator, qualify):
    project = make_project(items=2, known=2, name="Talks")
    conv.conversation_project_configure(project=project, config={"roles": ROLES, "min_turns": 2, "max_turns": 4})
    a, b = make_annotator("conv-a"), make_annotator("conv-b")
    qualify(project, a), qualify(project, b)
    client.force_login(a)
    assert client.get(reverse("workforce:conversation", args=[project.pk])).status_code == 200
    c = Conversation.objects.get(project=project, first=a)
    conv.conversation_join(project=project, annotator=b)
    return project, c, a, b


def test_turns_with_bad_input_are_400_with_field_errors_and_write_nothing(client, pair):
    project, c, a, b = pair
    url = reverse("workforce:conversation_turn", args=[project.pk, c.pk])
    for text, field in (("   ", "text"), ("x" * 2001, "text")):
        resp = client.post(url, {"text": text}, **JSON)
        assert resp.status_code == 400 and field in resp.json(), resp.content
    resp = client.post(reverse("workforce:conversation_end", args=[project.pk, c.pk]), **JSON)
    assert resp.status_code == 400 and "at least 2 turns" in resp.json()["conversation"][0]
    assert not Turn.objects.exists()
    resp = client.post(url, {"text": "Hello there"}, **JSON)
    assert resp.status_code == 200 and resp.json()["turns"][0]["text"] == "Hello there"
    resp = client.post(url, {"text": "Again?"}, **JSON)  # not my turn now
    assert resp.status_code == 400 and resp.json() == {"text": ["Wait for your partner's turn."]}
    # without JavaScript: the form posts and comes back to the page with the message
    resp = client.post(url, {"text": "Again?"}, follow=True)
    assert resp.status_code == 200 and "Wait for your partner&#x27;s turn." in resp.content.decode()
    assert Turn.objects.count() == 1


def test_the_state_never_names_the_partner_and_others_get_404(client, pair, make_annotator, qualify):
    project, c, a, b = pair
    state = client.get(reverse("workforce:conversation_state", args=[project.pk, c.pk])).json()
    assert state["role_name"] == "Seller" and state["partner_role_name"] == "Buyer" and state["your_turn"] is True
    assert "conv-b" not in str(state)
    assert set(state) == {"id", "state", "role", "role_name", "partner_role_name", "your_turn", "turns", "min_turns",
                          "max_turns", "can_end", "end_reason"}  # nothing about who the partner is
    outsider = make_annotator("conv-c")
    qualify(project, outsider)
    client.force_login(outsider)
    for name, method in (("conversation_state", "get"), ("conversation_turn", "post"), ("conversation_end", "post"),
                         ("conversation_leave", "post")):
        resp = getattr(client, method)(reverse(f"workforce:{name}", args=[project.pk, c.pk]), **JSON)
        assert resp.status_code == 404, name
    assert Conversation.objects.get(pk=c.pk).state == "active"


def test_progress_refuses_a_malformed_session_start(annotator_client, working):
    url = reverse("workforce:task_progress", args=[working.project_id])
    assert annotator_client.get(url, {"since": "yesterday"}).status_code == 400
    body = annotator_client.get(url, {"since": "1"}).json()  # 1970: outside the last 24 h, ignored
    assert body == {"answers_today": 0, "answers_session": None, "earnings_today": []}


def test_skip_with_bad_reason_keeps_the_task(annotator_client, working):
    from tasks_app.models import Lease

    task_url = reverse("workforce:task", args=[working.project_id])
    annotator_client.get(task_url)
    lease = Lease.objects.get(annotator=working.annotator, state="active")
    resp = annotator_client.post(reverse("workforce:task_skip", args=[working.project_id]),
                                 {"lease_id": lease.pk, "reason": "bored", "then": "next"}, follow=True)
    assert resp.status_code == 200 and "Choose why you are skipping this task." in resp.content.decode()
    lease.refresh_from_db()
    assert lease.state == "active"
