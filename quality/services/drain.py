"""The coalesced scoring drain (issue 9/4): one ``quality.score_pending`` task scores every
unscored answer in id order, in chunks, instead of one Celery task per answer.

The submit side (``tasks_app.services.enqueue``) sets a Redis flag with ``SET NX`` after its
commit and publishes the drain only when it set the flag. The protocol that strands no answer:
a drain renews the flag while it runs (after a chunk, at most once a second: ``RENEW_SECONDS``,
against a 10 s TTL) and, when a read finds nothing left, *clears the flag first, then reads once
more*. An answer whose submit found the flag set committed before that
``SET NX``, hence before the clear, hence before the final read, which therefore sees it; a
submit after the clear sets the flag itself and publishes a new drain. If the final read finds
answers, the drain claims the flag back (``SET NX``) and goes on, or stops when a newer submit
claimed it first (its drain will read them). Only a drain killed mid-run (SIGKILL: the flag left
set, its message unacked) holds the next publish back, for at most the flag's TTL; the answers
it left are re-sent one by one by the periodic sweep (``quality.sweep_unscored``).

A chunk is grouped per project: the project's regular answers in one transaction (set-based,
``scoring.regular_answers_score``), then its hidden checks in another (``scoring.check_answers_score``;
never in the same transaction as item rows: see ``scoring``'s docstring on gating and leases;
a new one after a check whose gate paused or revoked someone). So within a chunk the
regular answers are scored before the checks that arrived among them; the outcome equals
scoring them one by one in that order (``tests/quality/test_scoring_hot_path.py``).

Linger (``CADRE_DRAIN_LINGER_MS``, issue 4/9): after a short chunk a drain may wait and read
again, the flag still held, instead of going to the clear at once; it ends at the first empty
read after a linger, through the same clear and final read. Submits during the wait find the
flag set and rely on this drain, which reads them at its next read or its final one. Default 0
(BENCHMARKS.md "Answer → decision latency" has both sides measured).

Decisions where the issue was silent: the drain is global (one flag per queue, not per
project), because the submit's enqueue carries only the answer id and a per-project flag
would cost a lookup; one drain at a time scores for every project, leaving the worker's
other processes to the rest (re-estimates, audits, webhooks). A drain runs at most
``DRAIN_SECONDS`` and then hands over to a fresh message (flag kept), so an acked message
never covers more than that much work. An answer whose scoring fails with a non-retryable
error is logged and skipped for the rest of the run (the sweep retries it alone), so one bad
answer cannot stall everyone's scoring; a retryable one (database away, deadlock) fails the
task, which Celery retries with the flag still held.
"""
from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager, nullcontext

from celery import current_app
from django.db import connection

from tasks_app.models import Project
from tasks_app.services import enqueue

from . import hot_sql
from .common import RETRYABLE_ERRORS
from .scoring import check_answers_score, regular_answers_score

log = logging.getLogger(__name__)

DRAIN_SECONDS = 20.0

# Where a drain writes its timings (one JSON line per drain, appended), for ``bench/latency.py
# --trace``; unset (production): nothing is recorded and the only cost is one ``is None`` per phase.
TRACE_FILE = os.environ.get("CADRE_DRAIN_TRACE") or None


class _Trace:
    """Per-drain timings (issue 4/9, ``bench/latency.py --trace``): wall-clock spans
    ``[phase, start, end, answer ids]`` of ``read`` (the unscored read), ``regular`` / ``checks`` (a
    project's transactions), ``lock`` (waiting for the project's advisory lock, inside those),
    ``flag`` (Redis), ``final_read`` (the read after the clear), plus when the task was published
    and when it started, so the bench can attribute each slow answer's wait. ``time.time()``: the
    bench compares with the submit's clock on the same machine."""

    def __init__(self, sent: float | None):
        self.sent, self.start, self.spans = sent, time.time(), []

    @contextmanager
    def span(self, phase: str, ids=()):
        a = time.time()
        try:
            yield
        finally:
            self.spans.append((phase, a, time.time(), list(ids)))

    def _sql(self, execute, sql, params, many, context):
        if "pg_advisory_xact_lock" not in sql:
            return execute(sql, params, many, context)
        a = time.time()
        try:
            return execute(sql, params, many, context)
        finally:
            self.spans.append(("lock", a, time.time(), []))

    def write(self, scored: int, how: str) -> None:
        line = json.dumps({"pid": os.getpid(), "sent": self.sent, "start": self.start, "end": time.time(),
                           "scored": scored, "how": how, "spans": self.spans})
        try:
            with open(TRACE_FILE, "a") as f:
                f.write(line + "\n")
        except OSError as exc:  # a bench aid: never fail the drain for it
            log.warning("scoring drain: trace not written (%s)", exc)


def _span(trace: _Trace | None, phase: str, ids=()):
    return trace.span(phase, ids) if trace is not None else nullcontext()


def _flag(fn, client) -> bool | None:
    if client is None:  # no Redis broker (eager): nothing to coordinate with
        return True
    try:
        return fn(client)
    except enqueue.BROKER_ERRORS as exc:
        log.warning("scoring drain: the flag's Redis is unavailable (%s)", exc)
        return None


def _unscored(limit: int, skipped: set[int]) -> list[tuple[int, int, bool]]:
    return hot_sql.unscored(limit, skipped)  # prepared (issue 9, fifth round)


def _chunk_score(rows: list[tuple[int, int, bool]], skipped: set[int], trace: _Trace | None = None) -> int:
    by_project: dict[int, list[tuple[int, bool]]] = {}
    for answer_id, project_id, is_check in rows:
        by_project.setdefault(project_id, []).append((answer_id, is_check))
    scored = 0
    projects = Project.objects.in_bulk(list(by_project))  # once per chunk: both transactions of a project use it
    for project_id, answers in by_project.items():
        regular = [a for a, is_check in answers if not is_check]
        checks = [a for a, is_check in answers if is_check]
        project = projects.get(project_id)
        try:
            if project is None:  # deleted meanwhile (its answers with it)
                continue
            if regular:
                with _span(trace, "regular", regular):
                    done = regular_answers_score(project_id=project_id, answer_ids=regular, project=project)
                scored += len(done)
                skipped.update(a for a in regular if a not in done)  # another scoring holds it
            if checks:
                with _span(trace, "checks", checks):
                    done = check_answers_score(project_id=project_id, answer_ids=checks, project=project)
                scored += len(done)
                skipped.update(a for a in checks if a not in done)
        except RETRYABLE_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - one bad answer must not stall everyone's scoring
            log.exception("scoring drain: project %s answers %s failed; left to the sweep", project_id, [a for a, _ in answers])
            skipped.update(a for a, _ in answers)
    return scored


def pending_drain(*, chunk: int, seconds: float = DRAIN_SECONDS, sent: float | None = None, linger: float = 0.0) -> int:
    """Score unscored answers in id order, ``chunk`` at a time, until none is left (see the
    module docstring for the flag protocol) or ``seconds`` have passed. Returns how many it scored.
    ``linger`` (seconds, ``CADRE_DRAIN_LINGER_MS``): after a short chunk, wait this long and read
    again before giving up the flag; the drain ends at the first read that finds nothing after a
    linger. ``sent``: when the task was published (``time.time()``), for the trace only."""
    trace = _Trace(sent) if TRACE_FILE else None
    if trace is None:
        return _drain(chunk, seconds, linger, None)[0]
    with connection.execute_wrapper(trace._sql):
        scored, how = _drain(chunk, seconds, linger, trace)
    trace.write(scored, how)
    return scored


RENEW_SECONDS = 1.0  # a drain renews the flag at most this often (its TTL is enqueue.DRAIN_FLAG_TTL)


def _drain(chunk: int, seconds: float, linger: float, trace: _Trace | None) -> tuple[int, str]:
    client = enqueue._flag_redis()
    t0 = renewed = time.monotonic()
    scored = 0
    skipped: set[int] = set()
    chunk = max(1, chunk)
    with _span(trace, "read"):
        rows = _unscored(chunk, skipped)
    while True:
        if not rows:
            with _span(trace, "flag"):
                _flag(enqueue.drain_flag_clear, client)
            with _span(trace, "final_read"):
                rows = _unscored(chunk, skipped)  # the final read, after the clear
            if not rows:
                return scored, "empty"
            with _span(trace, "flag"):
                claimed = client is not None and _flag(enqueue.drain_flag_claim, client)
            if not claimed:
                return scored, "yielded"  # a newer submit set the flag: its drain reads them
            renewed = time.monotonic()
            continue
        scored += _chunk_score(rows, skipped, trace)
        now = time.monotonic()
        if now - renewed >= RENEW_SECONDS:
            # the flag's TTL only bounds how long a killed drain holds the next publish back; a
            # renew per chunk cost a Redis round trip per few answers under a trickle
            with _span(trace, "flag"):
                _flag(enqueue.drain_flag_renew, client)
            renewed = now
        if now - t0 > seconds:
            _flag(enqueue.drain_flag_renew, client)
            try:
                current_app.signature(enqueue.DRAIN_TASK, kwargs={"sent": time.time()}).delay()  # the flag stays set: hand over
            except enqueue.BROKER_ERRORS as exc:  # the flag lapses in its TTL; the next submit publishes
                log.warning("scoring drain: could not hand over (%s)", exc)
            return scored, "handed over"
        if len(rows) < chunk:
            # the read found less than a chunk: nothing more was committed then. Without a
            # linger, straight to the clear and the final read (the protocol needs only that
            # order), not another read first: under a trickle most drains are one short chunk
            # (issue 9, fifth round). With one, wait and read once more, the flag still held
            # (submits meanwhile rely on this drain, which reads them now or in its final read)
            if linger <= 0:
                rows = []
                continue
            with _span(trace, "linger"):
                time.sleep(linger)
        with _span(trace, "read"):
            rows = _unscored(chunk, skipped)
