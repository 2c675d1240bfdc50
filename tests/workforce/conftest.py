"""Fixtures for the workforce suites (pay, qualifier draws, re-qualification, appeals):
projects, annotators and answers built with the services on the real database."""
from __future__ import annotations

import itertools
import uuid

import pytest
from django.contrib.auth import get_user_model

from tasks_app import services as task_services
from tasks_app.models import Answer, Example, Item, Organization
from workforce import services as wf_services

PASSWORD = "correct-horse-battery-staple"
LABELS = ["cat", "dog"]
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_project(db):
    """A live project: 2 tutorial examples, ``qualifiers`` qualifier examples (label
    alternating cat/dog), 4 hidden known-answer examples, ``items`` regular items."""

    def build(*, qualifiers: int = 3, items: int = 6, name: str | None = None, **kwargs):
        org = Organization.objects.create(name=f"Org {uuid.uuid4().hex[:8]}")
        examples = [
            task_services.ExampleIn(data={"text": f"tutorial {i}"}, label=LABELS[i % 2], explanation=f"TUT-{i}", role="tutorial")
            for i in range(2)
        ]
        examples += [
            task_services.ExampleIn(data={"text": f"QBANK-{i} question"}, label=LABELS[i % 2], explanation=f"QEXP-{i}",
                                    role="qualifier")
            for i in range(qualifiers)
        ]
        examples += [
            task_services.ExampleIn(data={"text": f"known {i}"}, label=LABELS[i % 2], role="known") for i in range(4)
        ]
        params = dict(organization=org, name=name or f"Project {next(_seq)}", instructions="Cat or dog?", labels=LABELS,
                      accuracy_target=0.9, examples=examples, qualifier_wait_seconds=3600)
        params.update(kwargs)
        project = task_services.project_create(**params)
        task_services.items_upload(project=project, rows=[{"external_id": f"item-{i}", "data": {"text": f"item {i}"}}
                                                          for i in range(items)])
        return task_services.project_launch(project=project)

    return build


@pytest.fixture
def make_annotator(db):
    def build(username: str | None = None):
        user = wf_services.annotator_signup(username=username or f"ann-{uuid.uuid4().hex[:8]}", password=PASSWORD)
        wf_services.annotator_make_active(annotator=user, reason="Workforce test: vetted.")  # sign-up makes an applicant
        return user

    return build


def _qualify(project, user):
    m = wf_services.membership_join(project=project, annotator=user)
    m = wf_services.tutorial_complete(membership=m)
    attempt = wf_services.qualifier_draw(membership=m)
    answers = {ex.pk: ex.label for ex in Example.objects.filter(pk__in=attempt.example_ids)}
    result = wf_services.qualifier_submit(membership=m, responses=answers)
    assert result.attempt.passed
    return result.membership


@pytest.fixture
def qualify(db):
    """``qualify(project, user)`` → a working membership, through the draw and the grading."""
    return _qualify


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
