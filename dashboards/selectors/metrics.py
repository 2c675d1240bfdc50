"""The numbers behind ``/ops/metrics`` (Prometheus), read from PostgreSQL and Redis at scrape
time so every gunicorn worker and the Celery process report the same values (see
``dashboards/metrics.py``). Grouped queries: one per metric family, whatever the project count."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Func, Min, Q, Sum
from django.utils import timezone

from tasks_app.models import Answer, Item, Lease

from ..counters import counter_values
from .queues import EXPIRING_WITHIN, celery_queue_length

# Seconds from an answer's arrival to its scoring commit (scored_at); the real-time target is a
# second or two, the sweep's period (60 s) bounds a missed enqueue.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
LATENCY_QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class RecentLatency:
    """Decision latency of the answers scored in the trailing window (not cumulative: a
    gauge-style summary; ``dashboards/metrics.py`` says so in each series' HELP)."""

    window_seconds: int
    count: int
    sum_seconds: float
    buckets: list[tuple[float, int]]  # (upper bound, answers at or under it), +Inf last
    quantiles: list[tuple[float, float | None]]  # (q, seconds); None when nothing was scored


def per_project(qs, **aggregates) -> dict[int, dict]:
    return {r.pop("project_id"): r for r in qs.values("project_id").annotate(**aggregates).order_by()}


def answers_scored() -> dict[int, int]:
    """Scored answers per project: a tally up to a mark plus the answers scored after it
    (``dashboards.counters``; not a count over history)."""
    return counter_values("answers_scored")


def answers_unscored() -> dict[int, int]:
    return {p: r["n"] for p, r in per_project(Answer.objects.filter(scored_at__isnull=True), n=Count("id")).items()}


def oldest_unscored_age(now: datetime | None = None) -> float:
    oldest = Answer.objects.filter(scored_at__isnull=True).aggregate(t=Min("created_at"))["t"]
    return 0.0 if oldest is None else max(0.0, ((now or timezone.now()) - oldest).total_seconds())


def decision_latency(*, now: datetime | None = None, window_seconds: int | None = None) -> RecentLatency:
    """``scored_at − created_at`` of the answers scored in the last ``window_seconds``
    (``CADRE_METRICS_LATENCY_WINDOW_SECONDS``, 15 min): one aggregate query over a time range of
    ``answer_scored_idx``, so a scrape reads the answers of the window, not every scored answer
    in history (the cumulative histogram it replaces did). Quantiles are exact
    (``percentile_cont``) on PostgreSQL; elsewhere (the SQLite dev run) computed from the
    window's rows."""
    window = int(window_seconds if window_seconds is not None else settings.CADRE_METRICS_LATENCY_WINDOW_SECONDS)
    since = (now or timezone.now()) - timedelta(seconds=window)
    latency = ExpressionWrapper(F("scored_at") - F("created_at"), output_field=DurationField())
    qs = Answer.objects.filter(scored_at__gte=since).annotate(latency=latency)
    aggs = {f"le{i}": Count("id", filter=Q(latency__lte=timedelta(seconds=b))) for i, b in enumerate(LATENCY_BUCKETS)}
    if connection.vendor == "postgresql":
        aggs.update({f"q{i}": _Percentile(_seconds(F("scored_at") - F("created_at")), q=q)
                     for i, q in enumerate(LATENCY_QUANTILES)})
    row = qs.aggregate(n=Count("id"), total=Sum("latency"), **aggs)
    if connection.vendor == "postgresql":
        quantiles = [(q, row[f"q{i}"]) for i, q in enumerate(LATENCY_QUANTILES)]
    else:
        values = sorted(d.total_seconds() for d in qs.values_list("latency", flat=True))
        quantiles = [(q, _interpolated(values, q)) for q in LATENCY_QUANTILES]
    buckets = [(b, row[f"le{i}"]) for i, b in enumerate(LATENCY_BUCKETS)] + [(float("inf"), row["n"])]
    total = row["total"]
    return RecentLatency(window_seconds=window, count=row["n"], buckets=buckets, quantiles=quantiles,
                         sum_seconds=total.total_seconds() if total is not None else 0.0)


class _Percentile(Aggregate):
    """PostgreSQL ``percentile_cont(q) WITHIN GROUP (ORDER BY expression)``."""

    function = "percentile_cont"
    template = "%(function)s(%(q)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, q: float):
        super().__init__(expression, q=repr(float(q)))


def _seconds(expression) -> Func:
    return Func(expression, template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField())


def _interpolated(values: list[float], q: float) -> float | None:
    """``percentile_cont``'s definition (linear between the closest ranks) on sorted values."""
    if not values:
        return None
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def items_open() -> dict[int, int]:
    return {p: r["n"] for p, r in per_project(
        Item.objects.filter(is_known=False, status=Item.Status.OPEN), n=Count("id")).items()}


def leases(now: datetime | None = None) -> dict[int, dict[str, int]]:
    now = now or timezone.now()
    return per_project(
        Lease.objects.filter(state=Lease.State.ACTIVE), active=Count("id"),
        expiring=Count("id", filter=Q(expires_at__gte=now, expires_at__lt=now + EXPIRING_WITHIN)),
    )


def revocations() -> dict[int, int]:
    """Gating decisions that revoked an annotator's access (the engine's; counts every event),
    as ``answers_scored``: tally plus the ones after the mark."""
    return counter_values("revocations")


def celery_queue() -> int | None:
    return celery_queue_length()
