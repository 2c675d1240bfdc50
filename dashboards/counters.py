"""The ``/ops/metrics`` counters ``cadre_answers_scored_total`` and ``cadre_revocations_total``
at a scrape cost flat in history (review leftover: each scrape counted every scored answer and
every revocation ever made).

Decision: an **incremental watermark**, like the pay accrual's (``workforce.services.pay``), not
counters bumped where the event happens. Bumping a per-project row on every scored answer would
put a hot row lock and a write into the scoring path (another engineer's; the drain scores in
batches across projects), for a number only a scrape reads. Instead each counter has a mark
(``MetricMark.through``) and per-project tallies (``MetricTally``) of the events at or before it;
a scrape reports ``tally + events after the mark`` in **one statement** that also returns the mark
it saw (one snapshot: a scrape that moves the mark at the same moment cannot make another see an
event twice or not at all — the read is repeated with the new mark), and the events after the
mark are an index range (``answer_scored_idx``, ``gating_revoked_idx``).

The mark moves at most once a minute (``ADVANCE_EVERY``), by whichever scrape comes first (the
others skip: ``FOR UPDATE SKIP LOCKED``), to ``now − CADRE_METRICS_COUNTER_OVERLAP_SECONDS``
(600 s, as the pay accrual): the time stamps (``scored_at``, a decision's ``created_at``) are set
before their transaction commits, so a mark right at ``now`` could pass an event that is not
visible yet and never count it. An event must become visible within the overlap (scoring and
gating transactions last milliseconds). So a scrape reads the tallies (one row per project)
plus at most ~11 minutes of events: its cost follows the recent rate, not the history
(``bench/dashboards.py``).

Monotonic in Prometheus's sense: an event is counted once it is visible and never leaves the
sum (moving the mark moves it from the live part into the tally in one transaction). A project
deleted takes its tallies with it, which is its series ending. The first scrape after deploying
tallies the whole history once (the mark starts at the beginning of time). This is a write on a
read path (the scrape), as ``dashboards.claims`` is: bounded, idempotent, documented.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from quality.models import GatingDecision
from tasks_app.models import Answer
from workforce.models import Membership

from .models import MetricMark, MetricTally

ADVANCE_EVERY = timedelta(seconds=60)
BEGINNING = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


# name → (table, time column, extra condition): the events a counter counts
def _sources() -> dict[str, tuple[str, str, str]]:
    return {
        "answers_scored": (Answer._meta.db_table, "scored_at", ""),
        "revocations": (GatingDecision._meta.db_table, "created_at", f"AND e.standing = '{Membership.Standing.REVOKED}'"),
    }


def overlap() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "CADRE_METRICS_COUNTER_OVERLAP_SECONDS", 600)))


def counters_advance(*, now: datetime | None = None) -> list[str]:
    """Move each due counter's mark to ``now − overlap``, adding the events passed to the
    tallies; the counters moved. Skips a counter another scrape is moving right now."""
    return _advance(now=now)[0]


def counters_read(*, now: datetime | None = None) -> dict[str, dict[int, int]]:
    """What a scrape does: move the due marks, then each counter's values (project id → value)."""
    _, marks = _advance(now=now)
    return {name: counter_values(name, through=marks.get(name)) for name in _sources()}


def _advance(*, now: datetime | None) -> tuple[list[str], dict[str, datetime]]:
    now = now or timezone.now()
    to = now - overlap()
    marks = dict(MetricMark.objects.values_list("name", "through"))
    missing = [n for n in _sources() if n not in marks]
    if missing:
        MetricMark.objects.bulk_create([MetricMark(name=n, through=BEGINNING) for n in missing], ignore_conflicts=True)
        marks.update({n: BEGINNING for n in missing})
    due = [n for n, through in marks.items() if n in _sources() and to - through >= ADVANCE_EVERY]
    moved = []
    for name in due:
        with transaction.atomic():
            mark = MetricMark.objects.select_for_update(skip_locked=True).filter(name=name).first()
            if mark is None or to - mark.through < ADVANCE_EVERY:
                continue  # another scrape is moving it, or just did
            table, column, extra = _sources()[name]
            with connection.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {_q(MetricTally._meta.db_table)} (name, project_id, value) "
                    f"SELECT %s, e.project_id, count(*) FROM {_q(table)} e "
                    f"WHERE e.{_q(column)} > %s AND e.{_q(column)} <= %s {extra} GROUP BY e.project_id "
                    f"ON CONFLICT (name, project_id) DO UPDATE SET value = {_q(MetricTally._meta.db_table)}.value + EXCLUDED.value",
                    [name, mark.through, to],
                )
            MetricMark.objects.filter(name=name).update(through=to)
            moved.append(name)
            marks[name] = to
    return moved, marks


def counter_values(name: str, *, through: datetime | None = None) -> dict[int, int]:
    """project id → the counter's value: its tally plus the events after its mark.

    The mark goes into the statement as a value, not a subquery: a time PostgreSQL cannot see
    at planning is estimated to match a third of the table, and the tail became a sequential scan
    of every answer (bench/dashboards.py showed it). The statement also returns the mark as it
    reads it, in the same snapshot as the tallies; should a scrape have moved it in between, the
    read is done again with the new one, so tally and tail always meet at the same mark."""
    table, column, extra = _sources()[name]
    tally, mark = _q(MetricTally._meta.db_table), _q(MetricMark._meta.db_table)
    if through is None:
        through = MetricMark.objects.filter(name=name).values_list("through", flat=True).first() or BEGINNING
    sql = (
        f"SELECT (SELECT through FROM {mark} WHERE name = %s), project_id, sum(n) FROM ("
        f" SELECT project_id, value AS n FROM {tally} WHERE name = %s"
        f" UNION ALL"
        f" SELECT e.project_id, count(*) FROM {_q(table)} e WHERE e.{_q(column)} > %s {extra} GROUP BY e.project_id"
        f") x GROUP BY project_id"
    )
    for _ in range(5):
        with connection.cursor() as cur:
            cur.execute(sql, [name, name, through])
            rows = cur.fetchall()
        current = rows[0][0] if rows else None
        if current is None or current == through:
            break
        through = current  # the mark moved between our read of it and this statement: again
    return {project_id: int(n) for _, project_id, n in rows if n}
