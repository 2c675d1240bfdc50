"""The coalesced scoring drain (issue 9/4): one ``quality.score_pending`` task scores every
unscored answer in id order, in chunks, instead of one Celery task per answer, and stays resident
while answers keep coming, woken through Redis, instead of one Celery message per burst.

The submit side (``tasks_app.services.enqueue.drain_signal``), after its commit, runs one Redis
script (one round trip, atomic): ``SET flag NX EX 10``; if that fails (a drain holds the flag),
push a wake (``LPUSH`` on the wake list, ``LTRIM`` to one element, ``EXPIRE``). It publishes the
drain only when its ``SET`` succeeded (no drain alive or queued). The drain, in a loop:

1. read the oldest unscored answers (at most a chunk) and score them; a full chunk: read again;
2. a read that found less than a chunk (or nothing): ``BLPOP`` the wake list for up to the idle
   window (``CADRE_DRAIN_IDLE_MS``), the flag renewed first when due (at most once a second,
   ``RENEW_SECONDS``, against its 10 s TTL; the window is capped at half the TTL). A wake: read
   (1). The pop is the list's clear: the list never holds more than one element;
3. the window passed with no wake: *clear the flag first, then read once more* (the final read).
   Nothing: the drain ends. Answers: it claims the flag back (``SET NX``) and goes on (1), or
   stops when a newer submit claimed it first (that submit's drain reads them).

Why no answer is stranded. Take an answer A whose submit's ``SET NX`` failed at time s (had it
succeeded, it published a drain, whose first read comes after A's commit). A committed before s,
and the flag was held at s: by a drain (or its queued message) that has not cleared it since it
last set, claimed or renewed it. A drain gives the flag up only through (3), clear then final
read, so that drain clears at some c > s and its final read, after c, sees A; or it hands over
(flag kept) to a message that starts with a read, or it re-claims after its final read and will
end through (3) again later; or it is killed (below). Waiting changes none of this: a drain
waits only with the flag held and leaves a wait only to read or to go to (3). So the
clear-then-final-read rule alone keeps A from being stranded, as before the wake.

Why A is read at once, not at the window's end. The same script pushed A's wake at s, after A's
commit. Every pop is followed by a read by the drain that popped, so a pop after s brings a read
that sees A; the list keeps an element until some drain pops it (``LTRIM`` keeps one, and it
stands for every push before the pop), so a drain already waiting at s pops at s, and one that
waits later pops at once; one that reads after s sees A anyway. The wake replaces "end and let
the next submit publish a new Celery message" by a pop on a connection the drain already holds.
A Redis error during the wait counts as no wake: the drain goes to (3), as when the window
passes; with Redis away its clear and claim fail too (logged) and it ends even if the final read
found answers, which the periodic sweep re-sends (``quality.sweep_unscored``), as do the
submits' failed signals: the fallback of the protocol before the wake, unchanged
(``tests/faults``: answers committed during an outage wait for the sweep). Only a drain killed
mid-run (SIGKILL: the flag left set; its message was acked on receipt, see ``quality.tasks``) holds the next publish back, for at
most the flag's TTL; the answers it left are re-sent one by one by the periodic sweep
(``quality.sweep_unscored``). The wake list expires 60 s after its last push: a wake nobody
popped was needed by nobody (a resident drain pops it within its window; an ended one covered it
by its final read).

While resident, a drain holds one prefork process of the worker (idle in ``BLPOP``, no CPU): with
the default ``--concurrency 2`` the other takes re-estimates, audits, certificates and webhooks,
as it did when drains followed each other. ``DRAIN_SECONDS`` still bounds one message: past it,
a drain that has just scored hands over to a fresh message (flag kept), and one whose read found
nothing more ends through the clear and the final read instead of waiting.

A chunk is grouped per project: the project's regular answers in one transaction (set-based,
``scoring.regular_answers_score``), then its hidden checks in another (``scoring.check_answers_score``;
never in the same transaction as item rows: see ``scoring``'s docstring on gating and leases;
a new one after a check whose gate paused or revoked someone). So within a chunk the
regular answers are scored before the checks that arrived among them; the outcome equals
scoring them one by one in that order (``tests/quality/test_scoring_hot_path.py``).

The linger (``CADRE_DRAIN_LINGER_MS``: after a short chunk, sleep and read again, flag held) is
folded into the wait: a drain that found nothing more sleeps in ``BLPOP`` until an answer comes,
and ``CADRE_DRAIN_GATHER_MS`` (default 0) is the linger's other half, batching: after a wake it
sleeps that long before the read, so that more answers share a chunk. BENCHMARKS.md "Scoring
drain woken through Redis" has the figures, and how the idle window's default (1 s) was chosen.

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
        trace_line({"pid": os.getpid(), "sent": self.sent, "start": self.start, "end": time.time(),
                    "scored": scored, "how": how, "spans": self.spans})


def trace_line(record: dict) -> None:
    """Append one JSON line to ``TRACE_FILE`` (the drains' records and, from ``quality.tasks``,
    every other task's span). A bench aid: an unwritable file is logged, never raised."""
    try:
        with open(TRACE_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
    except OSError as exc:
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


def pending_drain(*, chunk: int, seconds: float = DRAIN_SECONDS, sent: float | None = None, idle: float = 0.0,
                  gather: float = 0.0) -> int:
    """Score unscored answers in id order, ``chunk`` at a time, staying resident while answers
    keep coming (see the module docstring for the flag and wake protocol) or until ``seconds``
    have passed. Returns how many it scored. ``idle`` (seconds, ``CADRE_DRAIN_IDLE_MS``): how
    long it waits for a wake after a read found nothing more before it ends (0: ends at once,
    through the clear and the final read). ``gather`` (seconds, ``CADRE_DRAIN_GATHER_MS``): after
    a wake, sleep this long before the read, so a stream's answers come in fewer, larger chunks
    (less CPU per answer) at the cost of up to this much latency each. ``sent``: when the task
    was published (``time.time()``), for the trace only."""
    trace = _Trace(sent) if TRACE_FILE else None
    if trace is None:
        return _drain(chunk, seconds, idle, gather, None)[0]
    with connection.execute_wrapper(trace._sql):
        scored, how = _drain(chunk, seconds, idle, gather, trace)
    trace.write(scored, how)
    return scored


RENEW_SECONDS = 1.0  # a drain renews the flag at most this often (its TTL is enqueue.DRAIN_FLAG_TTL)


def _wait(client, idle: float) -> bool:
    """Wait up to ``idle`` seconds for a wake. A Redis error counts as no wake (logged): the drain
    then ends through the clear and the final read, as when the idle window passes, and with
    Redis away the flag lapses and the sweep re-sends what is left, as before the wake."""
    try:
        return enqueue.drain_wake_wait(client, idle)
    except enqueue.BROKER_ERRORS as exc:
        log.warning("scoring drain: waiting for a wake failed (%s); ending", exc)
        return False


def _drain(chunk: int, seconds: float, idle: float, gather: float, trace: _Trace | None) -> tuple[int, str]:
    # the wait must end before the socket's timeout (redis-py applies it to a BLPOP's reply), and
    # well inside the flag's TTL, which the drain renews before each wait
    idle = min(max(0.0, idle), enqueue.DRAIN_FLAG_TTL / 2)
    client = enqueue._flag_redis(socket_timeout=2.0 if idle <= 1.0 else idle + 1.0)
    t0 = renewed = time.monotonic()
    scored = 0
    skipped: set[int] = set()
    chunk = max(1, chunk)
    with _span(trace, "read"):
        rows = _unscored(chunk, skipped)
    while True:
        if rows:
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
            if len(rows) == chunk:
                with _span(trace, "read"):
                    rows = _unscored(chunk, skipped)
                continue
        # The last read found less than a chunk: nothing more was committed before it. Wait for a
        # wake (flag held, renewed first when due) rather than read again or end: an answer
        # committed since has pushed one, or will. Without an idle window (or a Redis broker, or
        # past ``seconds``), straight to the clear and the final read.
        if idle > 0 and client is not None and time.monotonic() - t0 <= seconds:
            if time.monotonic() - renewed >= RENEW_SECONDS:
                with _span(trace, "flag"):
                    _flag(enqueue.drain_flag_renew, client)
                renewed = time.monotonic()
            with _span(trace, "wait"):
                woke = _wait(client, idle)
            if woke:
                if gather > 0:
                    with _span(trace, "gather"):
                        time.sleep(gather)
                with _span(trace, "read"):
                    rows = _unscored(chunk, skipped)
                continue
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
