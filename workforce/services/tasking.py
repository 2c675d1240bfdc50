"""Next task and submit for an annotator who may work (wraps tasks_app's lease and answer services)."""
from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import transaction

from tasks_app.models import Project
from tasks_app import services as task_services

from ..models import Membership
from . import audience


def task_next(*, membership: Membership, rng: random.Random | None = None):
    """Next lease for a qualified annotator in good standing, or None."""
    if not membership.can_work:
        raise ValidationError({"membership": ["You cannot take tasks on this project."]})
    if membership.project.status != Project.Status.LIVE:
        return None
    if audience.has_quotas(membership.project):
        # quota check and lease in one transaction under the project's quota lock: the lease it
        # lets through is counted by the next request's check (see audience.quota_lock)
        with transaction.atomic():
            audience.quota_lock(project=membership.project)
            return _lease_if_allowed(membership, rng)
    return _lease_if_allowed(membership, rng)


def _lease_if_allowed(membership: Membership, rng: random.Random | None):
    if audience.tasking_blocked(membership=membership):  # account active, audience rules, quotas (issue 3a)
        return None
    return task_services.lease_next(
        project=membership.project,
        annotator=membership.annotator,
        known_check_rate=membership.known_check_rate,
        rng=rng,
    )


def task_submit(
    *, membership: Membership, lease_id: int, label: str, client_key: str, duration_ms: int | None = None,
    signals: dict | None = None, value=None,
):
    """Submit an answer; revoked annotators are refused. ``signals``: behaviour the page
    reported (visible time, pastes, blurs), cleaned by the answer service."""
    if not membership.can_work:
        raise ValidationError({"membership": ["You cannot take tasks on this project."]})
    return task_services.answer_submit(
        annotator=membership.annotator, lease_id=lease_id, label=label, client_key=client_key, duration_ms=duration_ms,
        signals=signals, value=value, project=membership.project,
    )


def task_skip(*, membership: Membership, lease_id: int, reason: str, note: str = ""):
    """Give the task back with a reason (workbench): the item is not offered to them again."""
    if not membership.can_work:
        raise ValidationError({"membership": ["You cannot take tasks on this project."]})
    return task_services.lease_skip(annotator=membership.annotator, lease_id=lease_id, reason=reason, note=note)


def conversation_next(*, membership: Membership):
    """The annotator's conversation on a conversation project (paired, waiting, or None when
    no scenario is free), under the same rules as any next task."""
    if not membership.can_work:
        raise ValidationError({"membership": ["You cannot take tasks on this project."]})
    if membership.project.status != Project.Status.LIVE or audience.tasking_blocked(membership=membership):
        return None
    return task_services.conversations.conversation_join(project=membership.project, annotator=membership.annotator)
