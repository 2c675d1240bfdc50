"""Scoring and the periodic re-estimate of the same project, at the same time, on PostgreSQL.

They write the same rows (item, confusion rows, model state) and once took them in opposite
orders: ``bench/load.py`` logged 135 deadlocks in one run. The project's advisory lock
(``quality.services.common.project_lock``) puts them in one order."""
from __future__ import annotations

import random
import threading

import pytest
from django.db import connection

from quality import services as quality_services
from quality.services.model import project_model_refresh
from tasks_app.models import Answer, Item
from tests.conftest import requires_postgres
from tests.quality.test_scoring import answer, setup_project, worker


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_scoring_and_re_estimates_side_by_side_never_deadlock(monkeypatch):
    project = setup_project(n_items=30, n_known=12, max_answers=10)
    users = [worker(project, f"conc-{i}") for i in range(6)]
    monkeypatch.setattr("tasks_app.services.answers.answer_scoring_enqueue", lambda *a, **k: None)  # score below, by hand
    rng = random.Random(7)
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    known = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    ids = [
        answer(project, u, it, rng.choice(["a", "b"])).pk
        for u in users for it in items + known[:8]
    ]
    rng.shuffle(ids)
    for aid in ids[:40]:  # some history for the re-estimates to work on
        quality_services.answer_score(answer_id=aid)
    rest = ids[40:]
    errors: list[BaseException] = []

    def run(fn) -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    def scorer(chunk):
        return lambda: [quality_services.answer_score(answer_id=a) for a in chunk]

    def refresher():
        for _ in range(6):
            project_model_refresh(project_id=project.pk)

    threads = [threading.Thread(target=run, args=(scorer(rest[i::4]),)) for i in range(4)]
    threads.append(threading.Thread(target=run, args=(refresher,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert not Answer.objects.filter(project=project, scored_at__isnull=True).exists()
