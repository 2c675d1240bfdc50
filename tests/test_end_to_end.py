"""The whole slice end to end: customer API → annotator web app → real Celery worker on
Redis → delivery. One annotator fails the qualifier; one poor annotator passes it, then
answers wrongly and is revoked; items are accepted; the delivery's numbers add up."""
from __future__ import annotations

import html
import json
import re
import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tasks_app.models import Answer, Lease
from tests.conftest import wait_for
from tests.factories import customer_with_token
from workforce.models import Membership

pytestmark = [pytest.mark.worker]

CATS = [f"A cat photo number {i}" for i in range(40)]
DOGS = [f"A dog photo number {i}" for i in range(40)]


def spec():
    """2 tutorial, 4 qualifier, 16 known-answer examples; truth is in the text."""
    examples = []
    texts = [(CATS[i], "cat") if i % 2 == 0 else (DOGS[i], "dog") for i in range(22)]
    for i, (text, label) in enumerate(texts):
        role = "tutorial" if i < 2 else "qualifier" if i < 6 else "known"
        examples.append({"data": {"text": text}, "label": label, "role": role, "explanation": f"It shows a {label}."})
    return {
        "name": "Cats and dogs",
        "instructions": "Say whether the photo shows a cat or a dog.",
        "labels": ["cat", "dog"],
        "accuracy_target": 0.9,
        "confidence": 0.95,
        "max_answers": 3,
        "qualifier_pass_mark": 0.75,
        "qualifier_max_attempts": 1,
        "examples": examples,
    }


def truth_of(text: str) -> str:
    return "cat" if "cat" in text else "dog"


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no hidden field {name}"
    return html.unescape(m.group(1))


def item_text(page: str) -> str:
    m = re.search(r"(A (?:cat|dog) photo number \d+(?: #\d+)?)", page)
    assert m, "no item text on the task page"
    return m.group(1)


class Annotator:
    def __init__(self, name: str, live: bool = True):
        self.name = name
        self.web = Client()
        resp = self.web.post(
            "/signup/",
            {"username": name, "email": f"{name}@example.org", "password": "a-long-pass-phrase",
             "password_again": "a-long-pass-phrase"},
        )
        assert resp.status_code == 302, resp.content[:500]
        self.vet()

    def vet(self) -> None:
        """Vetting (issue 3a): the emailed link, the profile form, ops' identity check, the code of conduct."""
        from django.contrib.auth import get_user_model
        from django.core import mail

        link = re.search(r"https?://[^/\s]+(/verify-email/[^/\s]+/)", mail.outbox[-1].body).group(1)
        assert "Email verified" in self.web.get(link).content.decode()
        resp = self.web.post("/profile/", {"age": "30", "country": "DE", "languages": "en"})
        assert resp.status_code == 302, resp.content[:500]
        ops, _ = get_user_model().objects.get_or_create(username="e2e-ops", defaults={"is_staff": True})
        ops_web = Client()
        ops_web.force_login(ops)
        user = get_user_model().objects.get(username=self.name)
        assert ops_web.post(f"/ops/people/{user.pk}/", {"action": "identity_pass"}).status_code == 302
        assert self.web.post("/account/", {"action": "activate"}).status_code == 302

    def onboard(self, project_id: int, qualifier: dict[int, str]) -> str:
        assert self.web.get(f"/projects/{project_id}/").status_code == 200
        base = f"/projects/{project_id}/tutorial/"
        for step, label in ((1, "dog"), (2, "dog")):  # the first is a cat: instant feedback says wrong
            page = self.web.post(f"{base}?step={step}", {"label": label}).content.decode()
            if step == 1:
                assert "wrong" in page.lower() or "not quite" in page.lower() or "incorrect" in page.lower()
                assert "It shows a cat." in page
        resp = self.web.post(f"/projects/{project_id}/qualifier/", {f"q-{k}": v for k, v in qualifier.items()})
        assert resp.status_code == 302, resp.content[:500]
        return self.web.get(resp["Location"]).content.decode()

    def work_once(self, project_id: int, answer) -> str:
        """Take one task and answer it; returns 'answered', 'empty' or 'blocked'."""
        page = self.web.get(f"/projects/{project_id}/task/").content.decode()
        if 'name="lease_id"' not in page:
            return "blocked" if "revoked" in page.lower() or "cannot" in page.lower() else "empty"
        text = item_text(page)
        form = {
            "lease_id": hidden(page, "lease_id"),
            "client_key": hidden(page, "client_key"),
            "started": hidden(page, "started"),
            "label": answer(text),
        }
        resp = self.web.post(f"/projects/{project_id}/task/", form)
        assert resp.status_code == 302
        # the browser retrying the same form is harmless
        assert self.web.post(f"/projects/{project_id}/task/", form).status_code == 302
        return "answered"


@pytest.mark.django_db(transaction=True)
def test_spec_to_delivery_through_api_web_and_real_worker(celery_worker):
    customer = customer_with_token()
    api: APIClient = customer.client
    resp = api.post("/api/projects/", spec(), format="json")
    assert resp.status_code == 201, resp.content
    project = resp.json()
    pid = project["id"]
    qualifier = {ex["id"]: ex["label"] for ex in project["examples"] if ex["role"] == "qualifier"}
    assert len(qualifier) == 4

    lines = "\n".join(
        json.dumps({"external_id": f"img-{i}", "data": {"text": f"{(CATS if i % 3 else DOGS)[39 - i]} #{i}"}})
        for i in range(12)
    )
    resp = api.post(f"/api/projects/{pid}/items/", lines, content_type="application/x-ndjson")
    assert resp.status_code == 201 and resp.json() == {"created": 12, "existing": 0}
    again = api.post(f"/api/projects/{pid}/items/", lines, content_type="application/x-ndjson")
    assert again.json() == {"created": 0, "existing": 12}
    assert api.post(f"/api/projects/{pid}/launch/").status_code == 200

    good = [Annotator(f"good{i}") for i in range(3)]
    poor = Annotator("poor")
    failer = Annotator("failer")
    for a in good + [poor]:
        result = a.onboard(pid, qualifier)
        assert "<strong>Pass</strong>" in result
    wrong = {k: ("cat" if v == "dog" else "dog") for k, v in qualifier.items()}
    failed_page = failer.onboard(pid, wrong)
    assert "<strong>Fail</strong>" in failed_page
    assert failer.work_once(pid, truth_of) in ("blocked", "empty")

    def flip(text: str) -> str:
        return "cat" if truth_of(text) == "dog" else "dog"

    # The poor annotator works first and alone for a while: every answer wrong. Gating is graded:
    # paused first (back to the tutorial; doing it again lets them work), then revoked.
    def poor_works():
        for _ in range(12):
            if poor.work_once(pid, flip) != "answered":
                break
            wait_for(lambda: not Answer.objects.filter(scored_at__isnull=True).exists(), message="scoring")

    poor_works()
    assert Membership.objects.get(annotator__username="poor").standing == "paused"
    for step in (1, 2):
        poor.web.post(f"/projects/{pid}/tutorial/?step={step}", {"label": "dog"})
    assert Membership.objects.get(annotator__username="poor").standing == "active"
    poor_works()
    poor_page = poor.web.get(f"/projects/{pid}/").content.decode()
    assert "Revoked" in poor_page or "revoked" in poor_page
    assert poor.work_once(pid, flip) == "blocked"
    assert not Lease.objects.filter(annotator__username="poor", state=Lease.State.ACTIVE).exists()

    # The good annotators work until nobody gets anything, letting the worker catch up.
    idle_rounds = 0
    deadline = time.monotonic() + 120
    while idle_rounds < 2 and time.monotonic() < deadline:
        outcomes = [a.work_once(pid, truth_of) for a in good]
        if "answered" in outcomes:
            idle_rounds = 0
            continue
        wait_for(lambda: api.get(f"/api/projects/{pid}/progress/").json()["answers_unscored"] == 0, message="scoring")
        idle_rounds += 1

    progress = api.get(f"/api/projects/{pid}/progress/").json()
    assert progress["items_total"] == 12
    assert progress["items_accepted"] + progress["items_uncertain"] + progress["items_pending"] == 12
    assert progress["items_pending"] == 0
    assert progress["items_accepted"] >= 1
    assert progress["annotators_revoked"] == 1
    assert progress["annotators_active"] + progress["annotators_warned"] == 3
    assert progress["answers_unscored"] == 0
    assert progress["answers"] == Answer.objects.count()

    delivery = api.get(f"/api/projects/{pid}/delivery/").json()
    summary, items = delivery["summary"], delivery["items"]
    assert summary["items_delivered"] == len(items) == 12
    assert summary["items_accepted"] == progress["items_accepted"]
    assert summary["items_accepted"] + summary["items_uncertain"] == summary["items_delivered"]
    truth = {f"img-{i}": truth_of((CATS if i % 3 else DOGS)[39 - i]) for i in range(12)}
    for row in items:
        assert 0.0 <= row["p_correct"] <= 1.0
        assert 1 <= row["answers_used"] <= 3
        if row["status"] == "accepted":
            assert row["label"] == truth[row["external_id"]], row
    assert summary["sample_size"] > 0
    assert summary["interval_lower"] <= summary["estimated_accuracy"] <= summary["interval_upper"]
    assert summary["certified"] == (summary["interval_lower"] >= summary["target"])
    assert sum(r["answers_used"] for r in items) == Answer.objects.filter(is_check=False).count()

    # the ops page shows the same project to staff
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("opsy", password="a-long-pass-phrase", is_staff=True)
    ops = Client()
    ops.force_login(staff)
    page = ops.get(f"/ops/projects/{pid}/", follow=True).content.decode()  # redirects to …/dashboard/
    assert "poor" in page and "Cats and dogs" in page
