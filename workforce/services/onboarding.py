"""Joining a project, the tutorial and the qualifier."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tasks_app.models import Example, Project

from ..models import Membership, QualifierAttempt


def membership_join(*, project: Project, annotator) -> Membership:
    """The annotator's membership on a live project, created on first visit."""
    if project.status != Project.Status.LIVE:
        raise ValidationError({"project": ["This project is not open."]})
    membership, _ = Membership.objects.get_or_create(project=project, annotator=annotator)
    return membership


def tutorial_complete(*, membership: Membership) -> Membership:
    """Mark the tutorial as gone through once; the qualifier opens. Repeating the tutorial
    later is always allowed and changes nothing — except for an annotator whose work was
    *paused* by gating: completing the tutorial makes them active again, with a note (the
    quality engine's gating keeps its evidence and goes on from there)."""
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        if m.standing == Membership.Standing.PAUSED:
            m.standing = Membership.Standing.ACTIVE
            m.standing_reason = (
                f"Back from the tutorial on {timezone.now():%Y-%m-%d %H:%M} UTC: you can work again. "
                f"Your checks before the pause still count; keep to the instructions. (Paused because: "
                f"{m.standing_reason})"
            )
            m.standing_changed_at = timezone.now()
            m.save(update_fields=["standing", "standing_reason", "standing_changed_at"])
        if m.tutorial_completed_at is None:
            m.tutorial_completed_at = timezone.now()
            if m.stage == Membership.Stage.TUTORIAL:
                m.stage = Membership.Stage.QUALIFIER
            m.save(update_fields=["tutorial_completed_at", "stage"])
    return m


def qualifier_wait_remaining(membership: Membership, now=None) -> timedelta | None:
    now = now or timezone.now()
    if membership.next_attempt_at and membership.next_attempt_at > now:
        return membership.next_attempt_at - now
    return None


@dataclass(frozen=True)
class QualifierResult:
    attempt: QualifierAttempt
    membership: Membership
    # per question: (example, chosen label, correct?) — shown only after grading
    review: list[tuple[Example, str | None, bool]]


def qualifier_submit(*, membership: Membership, responses: dict[int, str]) -> QualifierResult:
    """Grade a qualifier sitting. No feedback is given before this point.

    Every qualifier example must be answered (with one of the labels). Passing moves the
    annotator to work; failing starts the waiting period, and the last allowed failure
    closes the project to them. The score is kept: it is the prior of their accuracy.
    """
    project = membership.project
    questions = list(Example.objects.filter(project=project, role=Example.Role.QUALIFIER))
    now = timezone.now()
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        if m.stage == Membership.Stage.WORKING:
            raise ValidationError({"qualifier": ["You have already qualified."]})
        if m.stage == Membership.Stage.FAILED or m.qualifier_attempts >= project.qualifier_max_attempts:
            raise ValidationError({"qualifier": ["No qualifier attempts left on this project."]})
        if m.tutorial_completed_at is None:
            raise ValidationError({"qualifier": ["Go through the tutorial first."]})
        if qualifier_wait_remaining(m, now):
            raise ValidationError({"qualifier": ["Your next attempt is not open yet."]})
        # Whether they may sit the quiz at all is said first; then whether the sheet is complete.
        errors = []
        for number, ex in enumerate(questions, start=1):
            choice = responses.get(ex.pk)
            if choice is None:
                errors.append(f"Question {number} has no answer.")
            elif choice not in project.labels:
                errors.append(f"{choice!r} is not one of this project's labels.")
        if errors:
            raise ValidationError({"responses": errors})
        review = [(ex, responses.get(ex.pk), responses.get(ex.pk) == ex.label) for ex in questions]
        correct = sum(1 for _, _, ok in review if ok)
        total = len(questions)
        passed = total > 0 and correct / total >= project.qualifier_pass_mark
        m.qualifier_attempts += 1
        attempt = QualifierAttempt.objects.create(
            membership=m,
            number=m.qualifier_attempts,
            submitted_at=now,
            responses={str(k): v for k, v in responses.items()},
            correct=correct,
            total=total,
            passed=passed,
        )
        m.qualifier_correct, m.qualifier_total = correct, total
        if passed:
            m.stage = Membership.Stage.WORKING
            m.next_attempt_at = None
        elif m.qualifier_attempts >= project.qualifier_max_attempts:
            m.stage = Membership.Stage.FAILED
        else:
            m.next_attempt_at = now + timedelta(seconds=project.qualifier_wait_seconds)
        m.save()
    return QualifierResult(attempt=attempt, membership=m, review=review)
