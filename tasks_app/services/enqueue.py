"""Sending Celery tasks by name after commit (how tasks_app starts work in quality)."""
from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


SCORE_TASK = "quality.score_answer"

log = logging.getLogger(__name__)

# What a send raises when the broker is unreachable: kombu wraps connection errors once its
# publish retries are spent; the raw socket/redis errors can surface on the first connect.
BROKER_ERRORS = (BrokerOperationalError, RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)


def task_enqueue(name: str, *args: Any, **kwargs: Any) -> None:
    """Send a Celery task by name (after commit when inside a transaction).

    ``signature(name).delay()`` resolves the registered task, so the embedded run without
    Redis executes it in-process (``task_always_eager``), and a real deployment sends it
    to the broker.

    A broker that cannot be reached (Redis down) is not the caller's failure: the data is
    committed already, so the error is logged and the send dropped; the periodic sweep
    (``quality.sweep_unscored``) enqueues what was never scored. How long a send may block
    first is bounded by ``CELERY_TASK_PUBLISH_RETRY_POLICY`` / ``CELERY_BROKER_CONNECTION_TIMEOUT``.
    """

    def send() -> None:
        try:
            current_app.signature(name, args=args, kwargs=kwargs).delay()
        except BROKER_ERRORS as exc:
            log.warning("could not enqueue %s%r%r (broker unavailable: %s); the sweep will retry it", name, args, kwargs, exc)

    transaction.on_commit(send)
