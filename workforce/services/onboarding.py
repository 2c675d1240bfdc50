"""Joining a project, the tutorial and the qualifier (drawn from the project's bank), re-qualification.

The qualifier bank is the project's ``Example`` rows with role ``qualifier``; each sitting
draws ``CADRE_QUALIFIER_DRAW`` of them (all when the bank is smaller), preferring examples
the annotator was not asked before, and stores the draw on the attempt.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tasks_app import task_types
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


def _attempt_is_current(attempt: QualifierAttempt, project: Project, bank_ids: set[int]) -> bool:
    return attempt.spec_version == project.spec_version and bool(attempt.example_ids) and set(attempt.example_ids) <= bank_ids


def _draw(m: Membership, project: Project, bank: list[Example], rng: random.Random) -> list[int]:
    """Pick this sitting's questions: examples the annotator has not been asked in an earlier
    attempt first (at random); when the bank has too few of those left, the ones asked
    longest ago. Returned in the bank's order."""
    size = min(settings.CADRE_QUALIFIER_DRAW, len(bank))
    last_asked: dict[int, int] = {}
    for number, ids in QualifierAttempt.objects.filter(membership=m, submitted_at__isnull=False).values_list(
        "number", "example_ids"
    ):
        for ex_id in ids or []:
            last_asked[ex_id] = max(number, last_asked.get(ex_id, 0))
    fresh = [ex.pk for ex in bank if ex.pk not in last_asked]
    rng.shuffle(fresh)
    chosen = fresh[:size]
    if len(chosen) < size:
        seen = [ex.pk for ex in bank if ex.pk in last_asked]
        rng.shuffle(seen)
        seen.sort(key=lambda ex_id: last_asked[ex_id])  # stable: random among equally old
        chosen += seen[: size - len(chosen)]
    position = {ex.pk: i for i, ex in enumerate(bank)}
    return sorted(chosen, key=position.__getitem__)


def _open_attempt(m: Membership, project: Project, rng: random.Random | None) -> QualifierAttempt:
    """The sitting in progress (caller holds the membership lock): kept while it is current,
    so reloading the page cannot re-roll the questions; redrawn after a spec revision."""
    bank = list(Example.objects.filter(project=project, role=Example.Role.QUALIFIER).order_by("position", "id"))
    attempt = QualifierAttempt.objects.filter(membership=m, submitted_at__isnull=True).first()
    if attempt is not None:
        if _attempt_is_current(attempt, project, {ex.pk for ex in bank}):
            return attempt
        attempt.delete()
    last = QualifierAttempt.objects.filter(membership=m).order_by("-number").values_list("number", flat=True).first()
    return QualifierAttempt.objects.create(
        membership=m,
        number=(last or 0) + 1,
        example_ids=_draw(m, project, bank, rng or random.Random()),
        spec_version=project.spec_version,
    )


def _requalify_locked(m: Membership) -> bool:
    if not m.requalification_due:
        return False
    m.stage = Membership.Stage.QUALIFIER
    m.qualifier_attempts = 0  # attempts count again for the new spec version
    m.next_attempt_at = None
    m.save(update_fields=["stage", "qualifier_attempts", "next_attempt_at"])
    return True


def membership_requalify(*, membership: Membership) -> Membership:
    """Send an annotator who qualified on a spec version older than the project's
    ``requalify_from_version`` back to the qualifier, with a fresh count of attempts.
    Does nothing otherwise (safe to call on every page view)."""
    project = membership.project
    if not membership.requalification_due:
        return membership
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        m.project = project
        _requalify_locked(m)
    return m


def project_requalify(*, project: Project) -> int:
    """Apply :func:`membership_requalify` to every working member of the project now due
    (the spec revision can enqueue ``workforce.project_requalify``); returns how many."""
    due = Membership.objects.filter(stage=Membership.Stage.WORKING, project=project).filter(
        Q(qualified_spec_version__lt=project.requalify_from_version)
        | Q(qualified_spec_version__isnull=True, project__requalify_from_version__gt=1)
    )
    count = 0
    for membership in due.iterator():
        membership.project = project
        with transaction.atomic():
            m = Membership.objects.select_for_update().get(pk=membership.pk)
            m.project = project
            count += _requalify_locked(m)
    return count


def _may_sit(m: Membership, project: Project, now) -> None:
    if m.stage == Membership.Stage.WORKING:
        raise ValidationError({"qualifier": ["You have already qualified."]})
    if m.stage == Membership.Stage.FAILED or m.qualifier_attempts >= project.qualifier_max_attempts:
        raise ValidationError({"qualifier": ["No qualifier attempts left on this project."]})
    if m.tutorial_completed_at is None:
        raise ValidationError({"qualifier": ["Go through the tutorial first."]})
    if qualifier_wait_remaining(m, now):
        raise ValidationError({"qualifier": ["Your next attempt is not open yet."]})


def qualifier_draw(*, membership: Membership, rng: random.Random | None = None) -> QualifierAttempt:
    """The questions of the annotator's next (or current) sitting, drawn from the project's
    qualifier bank and stored with the attempt (see :func:`_draw`)."""
    project = membership.project
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        m.project = project
        _requalify_locked(m)
        _may_sit(m, project, timezone.now())
        return _open_attempt(m, project, rng)


def qualifier_submit(
    *, membership: Membership, responses: dict[int, str], rng: random.Random | None = None
) -> QualifierResult:
    """Grade a qualifier sitting. No feedback is given before this point.

    The sitting's questions are the ones drawn for it (:func:`qualifier_draw`; drawn here if
    the annotator submits without having opened one); answers to other examples are
    ignored. Every drawn question must be answered with one of the labels. Passing moves the
    annotator to work and records the spec version they qualified on; failing starts the
    waiting period, and the last allowed failure closes the project to them. The score is
    kept: it is the prior of their accuracy.
    """
    project = membership.project
    now = timezone.now()
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        m.project = project
        _requalify_locked(m)
        # Whether they may sit the quiz at all is said first; then whether the sheet is complete.
        _may_sit(m, project, now)
        attempt = _open_attempt(m, project, rng)
        by_id = Example.objects.in_bulk(attempt.example_ids)
        questions = [by_id[i] for i in attempt.example_ids]
        errors = []
        parsed: dict[int, tuple[str, object]] = {}
        t, config = project.task_type, project.type_config
        for number, ex in enumerate(questions, start=1):
            choice = responses.get(ex.pk)
            if choice is None:
                errors.append(f"Question {number} has no answer.")
                continue
            try:  # the task type's rules (tasks_app.task_types): a label, or the widget's JSON value
                parsed[ex.pk] = task_types.response_parse(t, config, project.labels, choice)
            except ValidationError as exc:
                prefix = "" if t == "single_choice" else f"Question {number}: "
                errors.extend(prefix + m for m in exc.messages)
        if errors:
            raise ValidationError({"responses": errors})
        responses = {pk: task_types.response_store(t, *lv) for pk, lv in parsed.items()}
        review = [
            (ex, responses[ex.pk], task_types.answer_matches(t, config, *parsed[ex.pk], ex.label, ex.value))
            for ex in questions
        ]
        correct = sum(1 for _, _, ok in review if ok)
        total = len(questions)
        passed = total > 0 and correct / total >= project.qualifier_pass_mark
        m.qualifier_attempts += 1
        attempt.submitted_at = now
        attempt.responses = {str(ex.pk): responses.get(ex.pk) for ex in questions}
        attempt.correct, attempt.total, attempt.passed = correct, total, passed
        attempt.save(update_fields=["submitted_at", "responses", "correct", "total", "passed"])
        m.qualifier_correct, m.qualifier_total = correct, total
        if passed:
            m.stage = Membership.Stage.WORKING
            m.next_attempt_at = None
            m.qualified_spec_version = attempt.spec_version
        elif m.qualifier_attempts >= project.qualifier_max_attempts:
            m.stage = Membership.Stage.FAILED
        else:
            m.next_attempt_at = now + timedelta(seconds=project.qualifier_wait_seconds)
        m.save()
    return QualifierResult(attempt=attempt, membership=m, review=review)
