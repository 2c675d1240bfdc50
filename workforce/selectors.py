"""Reads for the annotator web app (workforce views). No writes here: see services.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from tasks_app.models import Example, Project

from .models import Membership, QualifierAttempt


@dataclass(frozen=True)
class ProjectCard:
    project: Project
    membership: Membership | None


def projects_open(*, annotator) -> list[ProjectCard]:
    """Projects open to the annotator (every live project, for now: audience targeting comes
    later), each with the annotator's membership on it, or None before their first visit."""
    projects = list(Project.objects.filter(status=Project.Status.LIVE).order_by("-launched_at", "-id"))
    members = {
        m.project_id: m
        for m in Membership.objects.filter(annotator=annotator, project_id__in=[p.pk for p in projects]).select_related("project")
    }
    return [ProjectCard(project=p, membership=members.get(p.pk)) for p in projects]


def project_live(*, project_id: int) -> Project | None:
    return Project.objects.filter(pk=project_id, status=Project.Status.LIVE).first()


def tutorial_examples(*, project: Project) -> list[Example]:
    return list(Example.objects.filter(project=project, role=Example.Role.TUTORIAL).order_by("position", "id"))


def qualifier_examples(*, project: Project) -> list[Example]:
    return list(Example.objects.filter(project=project, role=Example.Role.QUALIFIER).order_by("position", "id"))


def qualifier_attempt(*, membership: Membership, number: int) -> QualifierAttempt | None:
    return QualifierAttempt.objects.filter(membership=membership, number=number, submitted_at__isnull=False).first()


def qualifier_last_attempt(*, membership: Membership) -> QualifierAttempt | None:
    return (
        QualifierAttempt.objects.filter(membership=membership, submitted_at__isnull=False).order_by("-number").first()
    )


@dataclass(frozen=True)
class ReviewRow:
    number: int
    example: Example
    chosen: str | None
    correct: bool


def qualifier_review(*, attempt: QualifierAttempt) -> list[ReviewRow]:
    """Per-question review of a graded attempt: the question, the annotator's answer, the
    correct answer and its explanation (shown only after grading)."""
    if attempt.example_ids:  # the sitting's own draw (issue 3B); older attempts asked the whole bank
        by_id = Example.objects.in_bulk(attempt.example_ids)
        questions = [by_id[i] for i in attempt.example_ids if i in by_id]
    else:
        questions = qualifier_examples(project=attempt.membership.project)
    rows = []
    for i, ex in enumerate(questions, start=1):
        chosen = attempt.responses.get(str(ex.pk))
        rows.append(ReviewRow(number=i, example=ex, chosen=chosen, correct=chosen == ex.label))
    return rows


@dataclass(frozen=True)
class QualifierState:
    """Whether the annotator may sit the qualifier now, and if not, why (the service is
    still what enforces it on submit)."""

    can_sit: bool
    reason: str
    attempts_used: int
    attempts_left: int
    next_attempt_at: datetime | None


def qualifier_state(*, membership: Membership, now: datetime | None = None) -> QualifierState:
    now = now or timezone.now()
    project = membership.project
    used = membership.qualifier_attempts
    left = max(0, project.qualifier_max_attempts - used)
    waiting = membership.next_attempt_at if membership.next_attempt_at and membership.next_attempt_at > now else None
    if membership.stage == Membership.Stage.WORKING:
        return QualifierState(False, "You have already qualified for this project.", used, left, None)
    if membership.stage == Membership.Stage.FAILED or left == 0:
        return QualifierState(False, "You have used all your qualifier attempts on this project.", used, 0, None)
    if membership.tutorial_completed_at is None:
        return QualifierState(False, "Go through the tutorial first; the qualifier opens after it.", used, left, None)
    if waiting:
        return QualifierState(False, "Your next qualifier attempt is not open yet.", used, left, waiting)
    return QualifierState(True, "", used, left, None)
