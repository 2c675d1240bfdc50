"""Answer writes: idempotent submit (enqueues scoring) and the engine's item decision."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import task_types
from ..models import Answer, Item, Lease
from .enqueue import SCORE_TASK, task_enqueue

# Behaviour signals the task page reports with an answer (README "Behaviour signals"): each a
# bounded int; anything else is dropped (a missing or bad value is simply not recorded).
SIGNAL_BOUNDS = {"visible_ms": 24 * 3600 * 1000, "pastes": 10_000, "blurs": 10_000}


def answer_signals_clean(raw: dict[str, Any] | None) -> dict[str, int]:
    """The known signal keys whose values are ints within ``0..bound`` (digit strings from a
    form count); unknown keys, bools, negatives, floats and oversized values are ignored."""
    out: dict[str, int] = {}
    if not isinstance(raw, dict):
        return out
    for key, bound in SIGNAL_BOUNDS.items():
        value = raw.get(key)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= bound:
            out[key] = value
    return out


def answer_submit(
    *,
    annotator,
    lease_id: int,
    label: str,
    client_key: str,
    duration_ms: int | None = None,
    signals: dict[str, Any] | None = None,
    value: Any = None,
) -> tuple[Answer, bool]:
    """Store an answer for a leased item; returns (answer, created).

    Idempotent on ``client_key``: the same submission twice returns the first answer and
    creates nothing. Scoring is enqueued after commit. Raises ValidationError for an
    unknown label or a lease that is not this annotator's live lease. ``signals`` (behaviour
    the page reports) is cleaned by ``answer_signals_clean``: bad values are dropped, never refused.
    ``value``: the structured answer of the non-categorical types, checked and given its canonical
    ``label`` by ``tasks_app.task_types.answer_clean`` (single choice: ``label`` alone).

    The hot path is one transaction of four statements (lock the lease, insert the answer,
    close the lease, count the answer). A repeated ``client_key`` or a second answer to the
    same item is caught by the unique constraints: the transaction rolls back whole, then
    the first answer is looked up (issue 9: no savepoint, no lookup before the insert).
    """
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": ["A client key of 1 to 64 characters is required."]})
    clean = answer_signals_clean(signals)
    try:
        with transaction.atomic():
            lease = (
                Lease.objects.select_for_update(of=("self",))
                .select_related("item", "project")
                .filter(pk=lease_id, annotator=annotator)
                .first()
            )
            if lease is None:
                raise ValidationError({"lease": ["No such task for you."]})
            if lease.state != Lease.State.ACTIVE or lease.expires_at <= timezone.now():
                # A retried or doubled submission of this lease finds the first answer.
                existing = Answer.objects.filter(annotator=annotator, client_key=client_key).first()
                if existing is not None:
                    return existing, False
                raise ValidationError({"lease": ["This task is no longer yours (it expired or was released)."]})
            project = lease.project
            label, value = task_types.answer_clean(project.task_type, project.type_config, project.labels, label, value)
            answer = Answer.objects.create(
                item=lease.item,
                project=lease.project,
                annotator=annotator,
                label=label,
                value=value,
                client_key=client_key,
                duration_ms=duration_ms,
                signals=clean,
                is_check=lease.item.is_known,
            )
            Lease.objects.filter(pk=lease.pk).update(state=Lease.State.SUBMITTED)
            # The lease's slot becomes the answer's: assigned stays, answers_count grows.
            Item.objects.filter(pk=lease.item_id).update(answers_count=F("answers_count") + 1)
            task_enqueue(SCORE_TASK, answer.pk)
    except IntegrityError:
        # Rolled back whole. The client key was used before (by an answer to another lease):
        # that answer is the result; otherwise this item already has their answer.
        existing = Answer.objects.filter(annotator=annotator, client_key=client_key).first()
        if existing is not None:
            return existing, False
        raise ValidationError({"lease": ["You have already answered this item."]}) from None
    return answer, True


def item_decision_apply(
    *, item: Item, status: str, label: str | None, p_correct: float | None, answers_wanted: int, value: Any = None
) -> None:
    """Record the quality engine's decision on an item (caller holds the item lock). ``value``:
    the decided structure of the non-categorical types (tasks_app.task_types)."""
    item.status = status
    item.label = label
    item.p_correct = p_correct
    item.answers_wanted = answers_wanted
    fields = ["status", "label", "p_correct", "answers_wanted"]
    if value is not None or item.value is not None:
        item.value = value
        fields.append("value")
    if status != Item.Status.OPEN:
        item.decided_at = timezone.now()
        fields.append("decided_at")
    item.save(update_fields=fields)
