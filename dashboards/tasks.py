"""Celery tasks of the dashboards: thin — load by id, call a service."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="dashboards.suspects_run", acks_late=True)
def suspects_run(run_id: int | None = None, *, batch_id: int | None = None) -> str:
    """``run_id``: compute that label-error suspect run (started from the suspects page).
    Idempotent: a run that is no longer pending is left as it is.
    ``batch_id``: start a run over the batch (sent by quality after its first certification);
    nothing when the batch already has a run."""
    from .analysis.suspects import suspect_run_auto, suspect_run_compute

    if batch_id is not None:
        run = suspect_run_auto(batch_id=batch_id)
        return f"started run {run.pk}" if run is not None else "skipped"
    run = suspect_run_compute(run_id=run_id)
    return run.status if run is not None else "missing"
