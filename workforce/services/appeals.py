"""Standing history (append-only) and appeals against a standing.

Who changed a standing, when, from what to what and why is written by
:func:`standing_change_record`: the quality engine's ``membership_standing_set`` calls it
(source ``engine``), and reinstatement on appeal here (source ``ops``, with the person).

An annotator who is warned, paused or revoked on a project may appeal with a text; one
appeal may be open at a time (a partial unique index). Ops read the open appeals with the
membership's standing reason and when it changed (quality's pages hold the gating
evidence; workforce does not import quality) and decide: **reinstate** (standing back to
active, the history and the quality engine's decisions kept, the ops reason recorded) or
**uphold** (nothing changes). The annotator sees the outcome and the note.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Appeal, Membership, StandingChange

APPEALABLE = (Membership.Standing.WARNED, Membership.Standing.PAUSED, Membership.Standing.REVOKED)
APPEAL_MIN_CHARS = 20
APPEAL_MAX_CHARS = 4000
NOTE_MAX_CHARS = 2000


def standing_change_record(
    *, membership: Membership, to_standing: str, reason: str, source: str, actor=None, from_standing: str | None = None
) -> StandingChange:
    """Append one row to the membership's standing history (``from_standing`` defaults to
    the standing the membership object holds now, i.e. before the caller changes it)."""
    return StandingChange.objects.create(
        membership=membership,
        from_standing=from_standing if from_standing is not None else membership.standing,
        to_standing=to_standing,
        reason=reason,
        source=source,
        actor=actor,
    )


def appeal_open(*, membership: Membership, text: str) -> Appeal:
    """Open an appeal against the membership's current standing."""
    text = (text or "").strip()
    errors: dict[str, list[str]] = {}
    if len(text) < APPEAL_MIN_CHARS:
        errors["text"] = [f"Explain your appeal in at least {APPEAL_MIN_CHARS} characters."]
    elif len(text) > APPEAL_MAX_CHARS:
        errors["text"] = [f"Keep your appeal under {APPEAL_MAX_CHARS} characters."]
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        if m.standing not in APPEALABLE:
            raise ValidationError({"appeal": ["Your standing on this project is active: there is nothing to appeal."]})
        if Appeal.objects.filter(membership=m, status=Appeal.Status.OPEN).exists():
            raise ValidationError({"appeal": ["You already have an open appeal on this project."]})
        if errors:
            raise ValidationError(errors)
        try:
            with transaction.atomic():
                return Appeal.objects.create(
                    membership=m, text=text, standing_at_appeal=m.standing, reason_at_appeal=m.standing_reason
                )
        except IntegrityError:  # a concurrent appeal won the partial unique index
            raise ValidationError({"appeal": ["You already have an open appeal on this project."]}) from None


def appeal_decide(*, appeal: Appeal, decision: str, decided_by, note: str) -> Appeal:
    """Decide an open appeal: ``reinstate`` or ``uphold``, with a note the annotator reads."""
    note = (note or "").strip()
    if decision not in ("reinstate", "uphold"):
        raise ValidationError({"decision": ["Choose reinstate or uphold."]})
    if not note:
        raise ValidationError({"note": ["Say why: the annotator reads this note."]})
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationError({"note": [f"Keep the note under {NOTE_MAX_CHARS} characters."]})
    now = timezone.now()
    with transaction.atomic():
        a = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if a.status != Appeal.Status.OPEN:
            raise ValidationError({"appeal": [f"This appeal was already decided ({a.get_status_display().lower()})."]})
        m = Membership.objects.select_for_update().get(pk=a.membership_id)
        if decision == "reinstate":
            reason = f"Reinstated on appeal: {note}"
            if m.standing != Membership.Standing.ACTIVE:
                standing_change_record(
                    membership=m, to_standing=Membership.Standing.ACTIVE, reason=reason, source="ops", actor=decided_by
                )
            m.standing = Membership.Standing.ACTIVE
            m.standing_reason = reason
            m.standing_changed_at = now
            m.save(update_fields=["standing", "standing_reason", "standing_changed_at"])
            a.status = Appeal.Status.REINSTATED
        else:
            a.status = Appeal.Status.UPHELD
        a.decided_by, a.decided_at, a.decision_note = decided_by, now, note
        a.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return a
