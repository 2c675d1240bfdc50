"""Writes the quality engine asks for: standing (with its reason) and the known-check rate."""
from __future__ import annotations


from django.utils import timezone

from tasks_app import services as task_services

from ..models import Membership
from .appeals import standing_change_record


# --- called by the quality engine ---------------------------------------------------------

def membership_standing_set(*, membership: Membership, standing: str, reason: str) -> Membership:
    """Record a gating decision on the membership (caller holds the row lock and stores
    the decision's evidence). Pausing and revocation also give back the annotator's open leases:
    a paused annotator goes back to the tutorial and must not sit on items meanwhile."""
    standing_change_record(membership=membership, to_standing=standing, reason=reason, source="engine")  # history (3B)
    membership.standing = standing
    membership.standing_reason = reason
    membership.standing_changed_at = timezone.now()
    membership.save(update_fields=["standing", "standing_reason", "standing_changed_at"])
    if standing in (Membership.Standing.REVOKED, Membership.Standing.PAUSED):
        task_services.leases_release(project=membership.project, annotator=membership.annotator)
    return membership


def membership_check_rate_set(*, membership: Membership, rate: float) -> None:
    membership.known_check_rate = rate
    membership.save(update_fields=["known_check_rate"])
