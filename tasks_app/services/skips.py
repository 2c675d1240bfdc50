"""Skipping a task (issue 6 workbench): the annotator gives the lease back with a reason.

The lease is closed in the state ``skipped`` with its reason (and the annotator's words for
"other"); its item goes back to the pool for others (``assigned - 1``). The pick never offers an
item to someone who holds a *skipped* lease on it (``picking``: ``state IN ('active', 'skipped')``),
so a skipped item is not shown to the same annotator again. Ops read the counts per project and
reason (``tasks_app.selectors.skip_counts``).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from ..models import Item, Lease

SKIP_NOTE_MAX = 200


def skip_reason_clean(*, reason: str, note: str = "") -> tuple[str, str]:
    """The reason (one of ``Lease.SkipReason``) and the note (required for "other", ≤ 200
    characters, whitespace trimmed); ValidationError with field errors otherwise."""
    reason = (reason or "").strip()
    note = " ".join((note or "").split())
    errors: dict[str, list[str]] = {}
    if reason not in Lease.SkipReason.values:
        errors["reason"] = ["Choose why you are skipping this task."]
    elif reason == Lease.SkipReason.OTHER and not note:
        errors["note"] = ["Say in a few words why you are skipping it."]
    if len(note) > SKIP_NOTE_MAX:
        errors["note"] = [f"Keep the note to {SKIP_NOTE_MAX} characters."]
    if errors:
        raise ValidationError(errors)
    return reason, note if reason == Lease.SkipReason.OTHER else ""


def lease_skip(*, annotator, lease_id: int, reason: str, note: str = "") -> Lease:
    """Close the annotator's active lease as skipped, with its reason; one transaction. Item
    then lease, locked in that order as everywhere else (``leases._leases_close``)."""
    reason, note = skip_reason_clean(reason=reason, note=note)
    with transaction.atomic():
        item_id = (
            Lease.objects.filter(pk=lease_id, annotator=annotator, state=Lease.State.ACTIVE)
            .values_list("item_id", flat=True).first()
        )
        if item_id is None:
            raise ValidationError({"lease": ["That task is no longer yours (answered, skipped or expired)."]})
        Item.objects.select_for_update().filter(pk=item_id).values_list("pk", flat=True).get()
        lease = Lease.objects.select_for_update().get(pk=lease_id)
        if lease.state != Lease.State.ACTIVE:  # closed by another request between the two reads
            raise ValidationError({"lease": ["That task is no longer yours (answered, skipped or expired)."]})
        lease.state, lease.skip_reason, lease.skip_note = Lease.State.SKIPPED, reason, note
        lease.save(update_fields=["state", "skip_reason", "skip_note"])
        Item.objects.filter(pk=item_id, assigned__gt=0).update(assigned=F("assigned") - 1)
    return lease
