"""Fixtures for the web (annotator + ops pages) tests: projects built with the services."""
from __future__ import annotations

import os
import re
import uuid
from types import SimpleNamespace

import pytest

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls
# from a thread with a running loop unless told this is fine (it is: the loop is idle).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from django.contrib.auth import get_user_model  # noqa: E402

from tasks_app.models import Organization  # noqa: E402
from tests import factories  # noqa: E402

PASSWORD = factories.SIGNUP_PASSWORD
LABELS = ["positive", "negative"]

TUTORIAL = [
    ("I love this kettle, it boils in a minute.", "positive", "TUT-EXPLAIN-1: the reviewer is pleased."),
    ("The lid snapped off on day one.", "negative", "TUT-EXPLAIN-2: the reviewer complains."),
]
QUALIFIER = [
    ("Wonderful service, thank you!", "positive", "QUAL-EXPLAIN-1: praise."),
    ("Terrible, it never worked.", "negative", "QUAL-EXPLAIN-2: complaint."),
    ("Would happily buy again.", "positive", "QUAL-EXPLAIN-3: praise."),
]


def known_text(i: int) -> str:
    return f"Customer review #{900 + i}: {'great product' if i % 2 == 0 else 'awful product'}"


def known_label(i: int) -> str:
    return "positive" if i % 2 == 0 else "negative"


def item_text(i: int) -> str:
    return f"Customer review #{100 + i}: {'great product' if i % 2 == 0 else 'awful product'}"


@pytest.fixture
def organization(db):
    return Organization.objects.create(name=f"Org {uuid.uuid4().hex[:6]}")


@pytest.fixture
def make_project(organization):
    """Build a live project: 2 tutorial, 3 qualifier, ``known`` hidden known-answer
    examples, ``items`` regular items (text contains 'great' → positive, 'awful' → negative)."""

    def build(*, items: int = 6, known: int = 4, launch: bool = True, name: str = "Review sentiment", **kwargs):
        return factories.onboarding_project(
            organization, labels=LABELS, name=name, launch=launch,
            instructions="Choose the overall sentiment of the review.\nJudge the reviewer's feeling.",
            tutorial=TUTORIAL, qualifier=QUALIFIER,
            known=[(known_text(i), known_label(i), "") for i in range(known)],
            items=[(f"item-{i:03d}", item_text(i)) for i in range(items)],
            **kwargs,
        )

    return build


@pytest.fixture
def project(make_project):
    return make_project()


@pytest.fixture
def make_annotator(db):
    def build(username: str | None = None):
        return factories.active_annotator(username, reason="Web fixture: vetted.")  # issue 3a vetting

    return build


@pytest.fixture
def annotator(make_annotator):
    return make_annotator("annie")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(username="opsy", password=PASSWORD, is_staff=True)


_qualify = factories.qualify  # membership in the working stage, through the real services


@pytest.fixture
def qualify(db):
    """``qualify(project, user)`` → membership in the working stage (real services)."""
    return _qualify


@pytest.fixture
def web_data():
    """The example texts and the password the fixtures use, for assertions."""
    return SimpleNamespace(password=PASSWORD, tutorial=TUTORIAL, qualifier=QUALIFIER, labels=LABELS)


@pytest.fixture
def working(project, annotator):
    """A qualified annotator's membership on ``project``."""
    return _qualify(project, annotator)


@pytest.fixture
def annotator_client(client, annotator):
    client.force_login(annotator)
    return client


# --- the task page's form (tests/web/test_task_loop.py, test_task_json.py) ---------------------------

TASK_FORM_FIELDS = ("csrfmiddlewaretoken", "lease_id", "client_key", "started", "then", "visible_ms", "pastes", "blurs")


def task_url(project_id: int) -> str:
    from django.urls import reverse

    return reverse("workforce:task", args=[project_id])


def form_of(html: str) -> dict:
    """The task form as a browser would send it (hidden fields; the signal fields stay empty
    without JavaScript)."""
    out = {}
    for name in TASK_FORM_FIELDS:
        m = re.search(rf'name="{name}" value="([^"]*)"', html)
        assert m, f"no {name} in the task form"
        out[name] = m.group(1)
    return out


def set_rate(membership, rate: float) -> None:
    from workforce import services as wf_services

    wf_services.membership_check_rate_set(membership=membership, rate=rate)


@pytest.fixture
def as_check_and_regular(client, make_annotator, qualify):
    """The no-leak tests' set-up, page or JSON: ``run(project, submit)`` takes, for a new annotator
    per kind, the task page's form while their check rate is 0 (a regular item first), sets the
    rate to 1 ("check") or 0 ("regular"), and calls ``submit(client, form)`` → (what the
    submit answered, the next lease's id); it checks that lease's item is a hidden check exactly
    for "check". Returns {kind: (answered, lease, user)}."""
    from tasks_app.models import Lease

    def run(project, submit):
        out = {}
        for kind, rate in (("check", 1.0), ("regular", 0.0)):
            user = make_annotator()
            membership = qualify(project, user)
            client.force_login(user)
            set_rate(membership, 0.0)
            form = form_of(client.get(task_url(project.pk)).content.decode())
            set_rate(membership, rate)
            answered, lease_id = submit(client, form)
            lease = Lease.objects.get(pk=lease_id)
            assert lease.item.is_known == (kind == "check")
            out[kind] = (answered, lease, user)
        return out

    return run


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {
        "executable_path": os.environ.get("CADRE_CHROMIUM", "/usr/bin/chromium"),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
