"""Fixtures for the workforce suites (pay, qualifier draws, re-qualification, appeals):
projects, annotators and answers built with the services on the real database."""
from __future__ import annotations

import itertools
import uuid

import pytest
from django.contrib.auth import get_user_model

from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Organization
from tests import factories

PASSWORD = factories.SIGNUP_PASSWORD
LABELS = ["cat", "dog"]
_seq = itertools.count(1)


@pytest.fixture
def make_project(db):
    """A live project: 2 tutorial examples, ``qualifiers`` qualifier examples (label
    alternating cat/dog), 4 hidden known-answer examples, ``items`` regular items."""

    def build(*, qualifiers: int = 3, items: int = 6, name: str | None = None, **kwargs):
        return factories.onboarding_project(
            Organization.objects.create(name=f"Org {uuid.uuid4().hex[:8]}"),
            labels=LABELS, name=name or f"Project {next(_seq)}", instructions="Cat or dog?",
            tutorial=[(f"tutorial {i}", LABELS[i % 2], f"TUT-{i}") for i in range(2)],
            qualifier=[(f"QBANK-{i} question", LABELS[i % 2], f"QEXP-{i}") for i in range(qualifiers)],
            known=[(f"known {i}", LABELS[i % 2], "") for i in range(4)],
            items=[(f"item-{i}", f"item {i}") for i in range(items)],
            **kwargs,
        )

    return build


@pytest.fixture
def make_annotator(db):
    def build(username: str | None = None):
        return factories.active_annotator(username, reason="Workforce test: vetted.")

    return build


@pytest.fixture
def qualify(db):
    """``qualify(project, user)`` → a working membership, through the draw and the grading."""
    return factories.qualify


@pytest.fixture
def make_answer(db):
    """``make_answer(project, user, item=None, label="cat", item_status=..., item_label=...,
    duration_ms=..., signals=..., check=None)``: an answer row as scoring leaves it (the
    item's decision written with tasks_app's own service)."""

    def build(project, user, *, label="cat", item_status=Item.Status.ACCEPTED, item_label="cat", duration_ms=60_000,
              signals=None, check: bool | None = None):
        if check is not None:
            item = Item.objects.filter(project=project, is_known=True).exclude(answers__annotator=user).first()
            answer = Answer.objects.create(item=item, project=project, annotator=user, label=label,
                                           client_key=uuid.uuid4().hex, duration_ms=duration_ms, signals=signals or {},
                                           is_check=True, correct=check)
            return answer
        item = Item.objects.create(project=project, external_id=f"x-{uuid.uuid4().hex[:10]}", data={"text": "x"})
        task_services.item_decision_apply(item=item, status=item_status,
                                          label=item_label if item_status != Item.Status.OPEN else None,
                                          p_correct=0.99, answers_wanted=1)
        return Answer.objects.create(item=item, project=project, annotator=user, label=label, client_key=uuid.uuid4().hex,
                                     duration_ms=duration_ms, signals=signals or {})

    return build


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(username=f"ops-{uuid.uuid4().hex[:6]}", password=PASSWORD, is_staff=True)
