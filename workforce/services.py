"""Writes for annotators: sign-up, joining a project, tutorial, qualifier, standing.

Standing and the known-check rate are decided by the quality engine; quality calls
:func:`membership_standing_set` and :func:`membership_check_rate_set` to record them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tasks_app.models import Example, Project
from tasks_app import services as task_services

from .models import AnnotatorProfile, Membership, QualifierAttempt

User = get_user_model()


def annotator_signup(*, username: str, password: str, display_name: str = "", email: str = ""):
    """Create an annotator account (user + profile)."""
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = ["Choose a user name."]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["That user name is taken."]
    try:
        validate_password(password)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, email=email)
            AnnotatorProfile.objects.create(user=user, display_name=display_name.strip() or username)
    except IntegrityError:  # a simultaneous sign-up took the name between the check and the insert
        raise ValidationError({"username": ["That user name is taken."]}) from None
    return user


def membership_join(*, project: Project, annotator) -> Membership:
    """The annotator's membership on a live project, created on first visit."""
    if project.status != Project.Status.LIVE:
        raise ValidationError({"project": ["This project is not open."]})
    membership, _ = Membership.objects.get_or_create(project=project, annotator=annotator)
    return membership


def tutorial_complete(*, membership: Membership) -> Membership:
    """Mark the tutorial as gone through once; the qualifier opens. Repeating the tutorial
    later is always allowed and changes nothing."""
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
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


def task_next(*, membership: Membership, rng: random.Random | None = None):
    """Next lease for a qualified annotator in good standing, or None."""
    if not membership.can_work:
        raise ValidationError({"membership": ["You cannot take tasks on this project."]})
    if membership.project.status != Project.Status.LIVE:
        return None
    return task_services.lease_next(
        project=membership.project,
        annotator=membership.annotator,
        known_check_rate=membership.known_check_rate,
        rng=rng,
    )


def task_submit(*, membership: Membership, lease_id: int, label: str, client_key: str, duration_ms: int | None = None):
    """Submit an answer; revoked annotators are refused."""
    if not membership.can_work:
        raise ValidationError({"membership": ["You cannot take tasks on this project."]})
    return task_services.answer_submit(
        annotator=membership.annotator, lease_id=lease_id, label=label, client_key=client_key, duration_ms=duration_ms
    )


# --- called by the quality engine ---------------------------------------------------------

def membership_standing_set(*, membership: Membership, standing: str, reason: str) -> Membership:
    """Record a gating decision on the membership (caller holds the row lock and stores
    the decision's evidence). Revocation also gives back the annotator's open leases."""
    membership.standing = standing
    membership.standing_reason = reason
    membership.standing_changed_at = timezone.now()
    membership.save(update_fields=["standing", "standing_reason", "standing_changed_at"])
    if standing == Membership.Standing.REVOKED:
        task_services.leases_release(project=membership.project, annotator=membership.annotator)
    return membership


def membership_check_rate_set(*, membership: Membership, rate: float) -> None:
    membership.known_check_rate = rate
    membership.save(update_fields=["known_check_rate"])
