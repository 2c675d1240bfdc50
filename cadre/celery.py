"""The Celery application.

With ``REDIS_URL`` set, tasks go through Redis to a separate worker process
(``celery -A cadre worker``). Without it, settings turn on ``task_always_eager`` so that
the embedded run (``make run``) scores answers in-process, right after the commit.
"""
import functools
import os

from celery import Celery
from celery.worker.consumer import Consumer as CeleryConsumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadre.settings")

# How often a worker that lost its broker tries to reach it again, in seconds (irev3). Celery's
# consumer reconnects through kombu's ``ensure_connection`` with kombu's defaults, which no
# setting reaches (``broker_transport_options``' intervals apply only to producers'
# ``default_channel``): 2 s, 4 s, 6 s … up to 30 s between attempts. A worker whose Redis was away
# for 20 s therefore went on waiting up to 10 s after it returned, and after a longer outage up to
# 30 s, while answers waited unscored. One connection attempt to a Redis on the same network costs
# a refused connect, so the worker tries every second instead.
BROKER_RECONNECT = {"interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}


class Consumer(CeleryConsumer):
    """Celery's worker consumer, reconnecting to the broker at ``BROKER_RECONNECT``'s pace."""

    def ensure_connected(self, conn):
        conn.ensure_connection = functools.partial(conn.ensure_connection, **BROKER_RECONNECT)
        return super().ensure_connected(conn)


app = Celery("cadre")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    worker_consumer="cadre.celery:Consumer",
    # Retry forever (Celery's default, 100 attempts, lasted ~45 min at kombu's pace and would last
    # ~100 s at this one, after which the worker exits): a worker without its broker has nothing
    # else to do, and it logs every attempt.
    broker_connection_max_retries=None,
)
app.autodiscover_tasks()
