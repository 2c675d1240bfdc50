"""Celery tasks of tasks_app: thin wrappers over services."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="tasks_app.expire_leases")
def expire_leases() -> int:
    """Give items of expired leases back to the pool."""
    return services.leases_expire()


@shared_task(name="tasks_app.phases_advance")
def phases_advance() -> dict:
    """Periodic: pilots done → review, every N decided items → a batch, all decided → complete."""
    return services.projects_advance()


@shared_task(name="tasks_app.project_phase_advance")
def project_phase_advance(project_id: int) -> str:
    """The same for one project (any app may enqueue it by name, e.g. after an acceptance)."""
    return services.project_phase_advance(project_id=project_id)


@shared_task(name="tasks_app.webhook_deliver", acks_late=True)
def webhook_deliver(delivery_id: int) -> str:
    """One attempt at one webhook delivery (idempotent: skips one not due or finished)."""
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="tasks_app.webhooks_retry")
def webhooks_retry() -> int:
    """Periodic: enqueue the webhook deliveries whose next attempt is due."""
    ids = services.deliveries_due()
    for pk in ids:
        webhook_deliver.delay(pk)
    return len(ids)


@shared_task(name="tasks_app.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return services.idempotency_keys_purge()


@shared_task(name="tasks_app.conversations_expire")
def conversations_expire() -> int:
    """Periodic: abandon two-person conversations whose partner left or that went quiet."""
    return services.conversations.conversations_expire()
