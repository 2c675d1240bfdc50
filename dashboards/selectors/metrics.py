"""The numbers behind ``/ops/metrics`` (Prometheus), read from PostgreSQL and Redis at scrape
time so every gunicorn worker and the Celery process report the same values (see
``dashboards/metrics.py``). Grouped queries: one per metric family, whatever the project count."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.utils import timezone

from quality.models import GatingDecision
from tasks_app.models import Answer, Item, Lease
from workforce.models import Membership

from .queues import EXPIRING_WITHIN, celery_queue_length

# Seconds from an answer's arrival to its scoring commit (scored_at); the real-time target is a
# second or two, the sweep's period (60 s) bounds a missed enqueue.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


@dataclass(frozen=True)
class LatencyHistogram:
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), +Inf last
    count: int
    sum_seconds: float


def per_project(qs, **aggregates) -> dict[int, dict]:
    return {r.pop("project_id"): r for r in qs.values("project_id").annotate(**aggregates).order_by()}


def answers_scored() -> dict[int, int]:
    return {p: r["n"] for p, r in per_project(Answer.objects.filter(scored_at__isnull=False), n=Count("id")).items()}


def answers_unscored() -> dict[int, int]:
    return {p: r["n"] for p, r in per_project(Answer.objects.filter(scored_at__isnull=True), n=Count("id")).items()}


def oldest_unscored_age(now: datetime | None = None) -> float:
    oldest = Answer.objects.filter(scored_at__isnull=True).aggregate(t=Min("created_at"))["t"]
    return 0.0 if oldest is None else max(0.0, ((now or timezone.now()) - oldest).total_seconds())


def decision_latency() -> LatencyHistogram:
    """Histogram of scored_at − created_at over every scored answer (one aggregate query)."""
    latency = ExpressionWrapper(F("scored_at") - F("created_at"), output_field=DurationField())
    qs = Answer.objects.filter(scored_at__isnull=False).annotate(latency=latency)
    aggs = {f"le{i}": Count("id", filter=Q(latency__lte=timedelta(seconds=b))) for i, b in enumerate(LATENCY_BUCKETS)}
    row = qs.aggregate(n=Count("id"), total=Sum("latency"), **aggs)
    buckets = [(b, row[f"le{i}"]) for i, b in enumerate(LATENCY_BUCKETS)] + [(float("inf"), row["n"])]
    total = row["total"]
    return LatencyHistogram(buckets=buckets, count=row["n"],
                            sum_seconds=total.total_seconds() if total is not None else 0.0)


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
    """Gating decisions that revoked an annotator's access (the engine's; counts every event)."""
    return {p: r["n"] for p, r in per_project(
        GatingDecision.objects.filter(standing=Membership.Standing.REVOKED), n=Count("id")).items()}


def celery_queue() -> int | None:
    return celery_queue_length()
