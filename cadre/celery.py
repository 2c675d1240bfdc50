"""The Celery application.

With ``REDIS_URL`` set, tasks go through Redis to a separate worker process
(``celery -A cadre worker``). Without it, settings turn on ``task_always_eager`` so that
the embedded run (``make run``) scores answers in-process, right after the commit.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadre.settings")

app = Celery("cadre")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
