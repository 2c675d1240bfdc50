"""Answer writes: idempotent submit (enqueues scoring) and the engine's item decision."""
from __future__ import annotations


from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Answer, Item, Lease
from .enqueue import SCORE_TASK, task_enqueue

def answer_submit(
    *, annotator, lease_id: int, label: str, client_key: str, duration_ms: int | None = None
) -> tuple[Answer, bool]:
    """Store an answer for a leased item; returns (answer, created).

    Idempotent on ``client_key``: the same submission twice returns the first answer and
    creates nothing. Scoring is enqueued after commit. Raises ValidationError for an
    unknown label or a lease that is not this annotator's live lease.
    """
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": ["A client key of 1 to 64 characters is required."]})
    with transaction.atomic():
        lease = (
            Lease.objects.select_for_update()
            .select_related("item", "project")
            .filter(pk=lease_id, annotator=annotator)
            .first()
        )
        if lease is None:
            raise ValidationError({"lease": ["No such task for you."]})
        # Checked under the lease lock: a retried or doubled submission finds the first answer.
        existing = Answer.objects.filter(annotator=annotator, client_key=client_key).first()
        if existing is not None:
            return existing, False
        if lease.state != Lease.State.ACTIVE or lease.expires_at <= timezone.now():
            raise ValidationError({"lease": ["This task is no longer yours (it expired or was released)."]})
        if label not in lease.project.labels:
            raise ValidationError({"label": [f"{label!r} is not one of this project's labels."]})
        try:
            with transaction.atomic():
                answer = Answer.objects.create(
                    item=lease.item,
                    project=lease.project,
                    annotator=annotator,
                    label=label,
                    client_key=client_key,
                    duration_ms=duration_ms,
                    is_check=lease.item.is_known,
                )
        except IntegrityError:
            raise ValidationError({"lease": ["You have already answered this item."]}) from None
        lease.state = Lease.State.SUBMITTED
        lease.save(update_fields=["state"])
        # The lease's slot becomes the answer's: assigned stays, answers_count grows.
        Item.objects.filter(pk=lease.item_id).update(answers_count=F("answers_count") + 1)
        task_enqueue(SCORE_TASK, answer.pk)
    return answer, True


def item_decision_apply(*, item: Item, status: str, label: str | None, p_correct: float | None, answers_wanted: int) -> None:
    """Record the quality engine's decision on an item (caller holds the item lock)."""
    item.status = status
    item.label = label
    item.p_correct = p_correct
    item.answers_wanted = answers_wanted
    fields = ["status", "label", "p_correct", "answers_wanted"]
    if status != Item.Status.OPEN:
        item.decided_at = timezone.now()
        fields.append("decided_at")
    item.save(update_fields=fields)
