"""The periodic safety net: re-enqueue answers that were never scored."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tasks_app.models import Answer



def unscored_sweep(*, older_than_seconds: int = 30, limit: int = 1000) -> list[int]:
    """Ids of answers that were stored but never scored (a lost task, a worker killed
    mid-run); the periodic task enqueues them again."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Answer.objects.filter(scored_at__isnull=True, created_at__lte=cutoff).order_by("id").values_list("id", flat=True)[
            :limit
        ]
    )
