"""The real-time path through a real Celery worker process on Redis."""
from __future__ import annotations

import pytest

from quality.models import AnnotatorQuality
from tasks_app.models import Answer, Item
from tests.conftest import wait_for
from tests.quality.test_scoring import answer, setup_project, worker

pytestmark = [pytest.mark.worker]


@pytest.mark.django_db(transaction=True)
def test_answers_are_scored_by_the_worker_after_commit(celery_worker):
    project = setup_project(n_items=3, n_known=6)
    u = worker(project, "rt1")
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id")[:3])
    answers = [answer(project, u, k, k.known_label) for k in knowns]
    wait_for(
        lambda: Answer.objects.filter(pk__in=[a.pk for a in answers], scored_at__isnull=False).count() == 3,
        message="the worker to score 3 answers",
    )
    aq = AnnotatorQuality.objects.get(project=project, annotator=u)
    assert (aq.checks, aq.checks_correct) == (3, 3)
    # the work happened in the other process, not here: the coalesced drain (one task per burst)
    assert "quality.score_pending" in celery_worker["log"].read_text()


@pytest.mark.django_db(transaction=True)
def test_the_worker_recovers_when_the_server_drops_its_connection(celery_worker):
    """The worker keeps its database connection across tasks; when PostgreSQL drops it (restart,
    failover, an admin's pg_terminate_backend), the next task fails once and its retry, and every
    task after it, must connect again (they all failed with "the connection is closed")."""
    from django.db import connection

    project = setup_project(n_items=3, n_known=6)
    u = worker(project, "rt-drop")
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    first = answer(project, u, knowns[0], knowns[0].known_label)
    wait_for(lambda: Answer.objects.filter(pk=first.pk, scored_at__isnull=False).exists(), message="a first scoring")
    with connection.cursor() as cursor:  # every other backend of this database: the worker's
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert cursor.fetchone()[0] >= 1
    later = [answer(project, u, k, k.known_label) for k in knowns[1:4]]
    wait_for(lambda: Answer.objects.filter(pk__in=[a.pk for a in later], scored_at__isnull=False).count() == 3,
             timeout=30, message="scoring after the dropped connection")
