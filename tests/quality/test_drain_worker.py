"""The coalesced scoring drain through a real Celery worker on Redis: bursts of concurrent
submits publish one drain per burst (Redis SET NX flag), and no answer is stranded by the race
between a submit that finds the flag set and a drain that is finishing (the drain clears the
flag before its final read). No sweep runs here: every answer must be scored by the drain."""
from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection

from quality.models import AnnotatorQuality
from tasks_app.models import Answer, Item
from tasks_app.services import enqueue
from tests.conftest import wait_for
from tests.quality.test_scoring import answer, setup_project, worker

pytestmark = [pytest.mark.worker]


@pytest.mark.django_db(transaction=True)
def test_concurrent_bursts_are_all_scored_once_by_drains_without_the_sweep(celery_worker):
    project = setup_project(n_items=40, n_known=16, max_answers=10)
    users = [worker(project, f"dr{i}-{project.pk}") for i in range(4)]
    items = list(Item.objects.filter(project=project).order_by("id"))
    errors: list[BaseException] = []

    def submit(u, rng):
        try:
            for burst in range(4):
                for it in rng.sample(items, 3):
                    if not Answer.objects.filter(item=it, annotator=u).exists():
                        answer(project, u, it, it.known_label if it.is_known else "a")
                time.sleep(rng.choice([0.0, 0.01, 0.05, 0.2]))  # gaps that end drains mid-stream
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(u, random.Random(i))) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    n = Answer.objects.filter(project=project).count()
    assert n >= 20
    wait_for(lambda: not Answer.objects.filter(project=project, scored_at__isnull=True).exists(), timeout=30,
             message="every answer scored by drains (no sweep)")
    checks = Answer.objects.filter(project=project, is_check=True)
    for u in users:  # each check counted exactly once
        mine = checks.filter(annotator=u)
        aq = AnnotatorQuality.objects.filter(project=project, annotator=u).first()
        assert (aq.checks if aq else 0) == mine.count()
        assert (aq.checks_correct if aq else 0) == mine.filter(correct=True).count()
    log = celery_worker["log"].read_text()
    assert "quality.score_pending" in log
    # a finished drain leaves the flag cleared, so the next submit publishes at once
    wait_for(lambda: not _flag_set(), timeout=10, message="the last drain to clear the flag")


def _flag_set() -> bool:
    from celery import current_app

    current_app.conf.task_always_eager = False
    client = enqueue._flag_redis()
    return bool(client.exists(enqueue.drain_flag_key()))
