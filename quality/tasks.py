"""Celery tasks of the quality engine: thin — load by id, call a service."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import connections

from . import services
from .services import drain as _drain

if _drain.TRACE_FILE:  # bench/latency.py --trace: every other task's span too (what shares the worker)
    import os
    import time

    from celery.signals import task_postrun, task_prerun

    _started: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _trace_start(task_id=None, task=None, **_):
        _started[task_id] = time.time()

    @task_postrun.connect(weak=False)
    def _trace_end(task_id=None, task=None, **_):
        a = _started.pop(task_id, None)
        if a is not None and task is not None and task.name != "quality.score_pending":
            _drain.trace_line({"pid": os.getpid(), "task": task.name, "start": a, "end": time.time()})


def _retry(task, exc: Exception):
    """Retry ``task`` after a database error, on a fresh connection. The worker keeps its
    connection across tasks (``CELERY_DB_REUSE_MAX``) and Django only health-checks it at a web
    request's start, so a connection the server dropped (a restart, a failover,
    ``pg_terminate_backend``) stayed broken for every later task of that process: each retry
    failed with "the connection is closed" (seen in the test suite's worker after the outage
    test). Closing it here makes the retry, and every task after it, connect again."""
    for conn in connections.all(initialized_only=True):
        conn.close()  # a retry is rare: reconnecting a connection that was fine costs little
    return task.retry(exc=exc)


@shared_task(name="quality.score_answer", acks_late=True, max_retries=5, default_retry_delay=2)
def score_answer(answer_id: int) -> str:
    """Score one answer, and with it up to ``CADRE_SCORING_BATCH`` other answers of its project
    waiting unscored (a backlog), through the drain's code as a batch of one. Idempotent (skips
    answers already scored, and leaves one another scoring holds to it), so retrying it after a
    database error or a redelivery after a worker crash is safe."""
    try:
        return services.answer_score(answer_id=answer_id, backlog=settings.CADRE_SCORING_BATCH).detail
    except services.RETRYABLE_ERRORS as exc:  # pragma: no cover - needs a failing database
        raise _retry(score_answer, exc)


# Acked on receipt, unlike the other tasks (settings: CELERY_TASK_ACKS_LATE): a drain stays resident up
# to DRAIN_SECONDS, so with a late ack its message sat delivered-but-unacked almost all the time, and
# when the broker went away kombu 5.5's channel close tried to restore it and raised AttributeError
# (restore_unacked on a connection without its client info), which Celery does not catch: the
# consumer died and the worker stopped consuming for good (tests/faults redis test, caught after the
# resident drain). The message carries no work: a drain killed mid-run is covered by the flag's TTL
# and the sweep (quality.services.drain docstring), not by redelivery.
@shared_task(name="quality.score_pending", acks_late=False, max_retries=5, default_retry_delay=1)
def score_pending(sent: float | None = None) -> int:
    """The coalesced drain (``quality.services.drain``): score every unscored answer in id order,
    in chunks of ``CADRE_SCORING_BATCH``, staying resident (woken through Redis) while answers
    keep coming, for up to ``CADRE_DRAIN_IDLE_MS`` without one. Published by a submit that set the
    drain flag. While resident it holds one prefork process of the worker. Idempotent
    like ``score_answer``; a retry after a database error keeps the flag and goes on draining.
    ``sent``: when it was published (for ``CADRE_DRAIN_TRACE`` only)."""
    try:
        return services.pending_drain(chunk=settings.CADRE_SCORING_BATCH, sent=sent,
                                       idle=settings.CADRE_DRAIN_IDLE_MS / 1000,
                                       gather=settings.CADRE_DRAIN_GATHER_MS / 1000)
    except services.RETRYABLE_ERRORS as exc:  # pragma: no cover - needs a failing database
        raise _retry(score_pending, exc)


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
        raise _retry(batch_certify, exc)
    return "certified"


@shared_task(name="quality.refresh_model")
def refresh_model(project_id: int) -> int:
    """Periodic re-estimate of one project's item model (scheduled by answer scoring), skipped
    when one written since it was enqueued made it no longer due."""
    from .services.model import project_model_refresh_if_due

    return project_model_refresh_if_due(project_id=project_id)


@shared_task(name="quality.answer_model_retrain")
def answer_model_retrain() -> int | None:
    """Fit a new version of the answer-quality model on the known-answer outcomes so far
    (Celery beat, ``ANSWER_MODEL_RETRAIN_SECONDS``). Returns the new version, or None."""
    row = services.answer_model_train()
    return row.version if row else None


@shared_task(name="quality.audit_known_answers")
def audit_known_answers() -> int:
    """Safety net for the known-answer audit (which also runs after every wrong check):
    audit every known item of every live project. Returns the number of new flags."""
    from tasks_app.models import Project

    return sum(services.known_items_audit(project=p) for p in Project.objects.filter(status=Project.Status.LIVE))


@shared_task(name="quality.audit_known_item", acks_late=True, max_retries=3, default_retry_delay=2)
def audit_known_item(item_id: int) -> bool:
    """Audit one known item's key after a check answer disagreed with it. Returns flagged?"""
    try:
        return services.known_item_audit_by_id(item_id=item_id) is not None
    except services.RETRYABLE_ERRORS as exc:  # pragma: no cover - needs a failing database
        raise _retry(audit_known_item, exc)
