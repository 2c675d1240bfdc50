"""Celery tasks of the dashboards: thin — load by id, call a service."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="dashboards.suspects_run", acks_late=True)
def suspects_run(run_id: int) -> str:
    """Compute a label-error suspect run (started from the suspects page). Idempotent: a run
    that is no longer pending is left as it is."""
    from .analysis.suspects import suspect_run_compute

    run = suspect_run_compute(run_id=run_id)
    return run.status if run is not None else "missing"
