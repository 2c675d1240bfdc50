"""Celery tasks of the workforce app: thin — call a service."""
from __future__ import annotations

from celery import shared_task

from .services import invitations


@shared_task(name="workforce.invitations_widen")
def invitations_widen() -> dict:
    """Hourly (CELERY_BEAT_SCHEDULE): another wave of invitations where too few accepted."""
    return {str(k): v for k, v in invitations.invitations_widen().items()}
