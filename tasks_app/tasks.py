"""Celery tasks of tasks_app: thin wrappers over services."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="tasks_app.expire_leases")
def expire_leases() -> int:
    """Give items of expired leases back to the pool."""
    return services.leases_expire()
