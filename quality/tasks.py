"""Celery tasks of the quality engine: thin — load by id, call a service."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="quality.score_answer", acks_late=True, max_retries=5, default_retry_delay=2)
def score_answer(answer_id: int) -> str:
    """Score one answer. Idempotent (skips answers already scored), so retrying it after a
    database error or a redelivery after a worker crash is safe."""
    try:
        return services.answer_score(answer_id=answer_id).detail
    except services.RETRYABLE_ERRORS as exc:  # pragma: no cover - needs a failing database
        raise score_answer.retry(exc=exc)


@shared_task(name="quality.sweep_unscored")
def sweep_unscored() -> int:
    """Re-enqueue answers that were stored but never scored."""
    ids = services.unscored_sweep()
    for answer_id in ids:
        score_answer.delay(answer_id)
    return len(ids)


@shared_task(name="quality.batch_certify", acks_late=True, max_retries=5, default_retry_delay=5)
def batch_certify(batch_id: int) -> str:
    """Certificate and calibrated probabilities of a delivery batch (enqueued by tasks_app when
    it cuts one); recomputing is harmless, the webhook goes out only the first time."""
    from .services.audits import batch_certify as certify

    try:
        certify(batch_id=batch_id)
    except services.RETRYABLE_ERRORS as exc:  # pragma: no cover - needs a failing database
        raise batch_certify.retry(exc=exc)
    return "certified"


@shared_task(name="quality.refresh_model")
def refresh_model(project_id: int) -> int:
    """Periodic re-estimate of one project's item model (scheduled by answer scoring)."""
    return services.project_model_refresh(project_id=project_id)
