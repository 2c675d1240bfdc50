"""Queue depth and lag: open items, leases about to expire, the Celery queue in Redis and the
age of the oldest answer still waiting to be scored."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from tasks_app.models import Answer, Item, Lease, Project

log = logging.getLogger(__name__)

EXPIRING_WITHIN = timedelta(minutes=5)  # "expiring" = an active lease ending within this


@dataclass(frozen=True)
class QueueState:
    items_open: int  # regular items still wanting answers
    items_held: int  # beyond the pilot, waiting for approval
    leases_active: int
    leases_expiring: int  # active and ending within EXPIRING_WITHIN
    leases_overdue: int  # active but already past expires_at (the expiry task has not run yet)
    answers_unscored: int
    oldest_unscored_at: datetime | None

    @property
    def oldest_unscored_seconds(self) -> float | None:
        if self.oldest_unscored_at is None:
            return None
        return max(0.0, (timezone.now() - self.oldest_unscored_at).total_seconds())


def project_queue(*, project: Project, now: datetime | None = None) -> QueueState:
    """Three aggregate queries: items, leases, unscored answers of one project."""
    return projects_queue(project_ids=[project.pk], now=now)[project.pk]


def projects_queue(*, project_ids, now: datetime | None = None) -> dict[int, QueueState]:
    """:func:`project_queue` of several projects (the overview's page): the same three
    aggregates, grouped by project, so three queries whatever the number of projects."""
    now = now or timezone.now()
    ids = list(project_ids)
    items = _grouped(
        Item.objects.filter(project_id__in=ids, is_known=False),
        open=Count("id", filter=Q(status=Item.Status.OPEN)), held=Count("id", filter=Q(status=Item.Status.HELD)),
    )
    leases = _grouped(
        Lease.objects.filter(project_id__in=ids, state=Lease.State.ACTIVE),
        active=Count("id"),
        expiring=Count("id", filter=Q(expires_at__gte=now, expires_at__lt=now + EXPIRING_WITHIN)),
        overdue=Count("id", filter=Q(expires_at__lt=now)),
    )
    unscored = _grouped(Answer.objects.filter(project_id__in=ids, scored_at__isnull=True), n=Count("id"),
                        oldest=Min("created_at"))
    out = {}
    for pid in ids:
        i = items.get(pid, {"open": 0, "held": 0})
        le = leases.get(pid, {"active": 0, "expiring": 0, "overdue": 0})
        u = unscored.get(pid, {"n": 0, "oldest": None})
        out[pid] = QueueState(
            items_open=i["open"], items_held=i["held"], leases_active=le["active"],
            leases_expiring=le["expiring"], leases_overdue=le["overdue"],
            answers_unscored=u["n"], oldest_unscored_at=u["oldest"],
        )
    return out


def _grouped(qs, **aggregates) -> dict[int, dict]:
    return {r.pop("project_id"): r for r in qs.values("project_id").annotate(**aggregates).order_by()}


def celery_queue_length() -> int | None:
    """Messages waiting in the Celery queue (Redis ``LLEN`` of the default queue), or None when
    there is no broker (embedded run: tasks run in-process) or Redis does not answer."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
        finally:
            client.close()
    except redis.RedisError as exc:
        log.warning("celery queue length unavailable: %s", exc)
        return None
