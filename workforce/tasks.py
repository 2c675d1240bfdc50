"""Celery tasks of workforce (thin: load by id, call a service)."""
from __future__ import annotations

from celery import shared_task

from tasks_app.models import Project

from . import services
from .services import invitations


@shared_task(name="workforce.earnings_accrue")
def earnings_accrue() -> int:
    """Beat: accepted answers → pay ledger, incrementally (what was scored or decided since the
    last run; a full sweep every CADRE_PAY_SWEEP_HOURS). Idempotent (the ledger's unique constraint)."""
    return services.earnings_accrue_all()


@shared_task(name="workforce.project_requalify")
def project_requalify(project_id: int) -> int:
    """After a material spec revision: send the project's members due back to the qualifier."""
    project = Project.objects.filter(pk=project_id).first()
    return services.project_requalify(project=project) if project else 0


@shared_task(name="workforce.invitations_widen")
def invitations_widen() -> dict:
    """Hourly (CELERY_BEAT_SCHEDULE): another wave of invitations where too few accepted."""
    return {str(k): v for k, v in invitations.invitations_widen().items()}
