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
    now = now or timezone.now()
    items = Item.objects.filter(project=project, is_known=False).aggregate(
        open=Count("id", filter=Q(status=Item.Status.OPEN)), held=Count("id", filter=Q(status=Item.Status.HELD)),
    )
    leases = Lease.objects.filter(project=project, state=Lease.State.ACTIVE).aggregate(
        active=Count("id"),
        expiring=Count("id", filter=Q(expires_at__gte=now, expires_at__lt=now + EXPIRING_WITHIN)),
        overdue=Count("id", filter=Q(expires_at__lt=now)),
    )
    unscored = Answer.objects.filter(project=project, scored_at__isnull=True).aggregate(n=Count("id"), oldest=Min("created_at"))
    return QueueState(
        items_open=items["open"], items_held=items["held"], leases_active=leases["active"],
        leases_expiring=leases["expiring"], leases_overdue=leases["overdue"],
        answers_unscored=unscored["n"], oldest_unscored_at=unscored["oldest"],
    )


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
