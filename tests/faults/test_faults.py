"""Faults on the real stack, small enough for CI (bench/faults.py runs them large and writes
BENCHMARKS.md): a worker killed with SIGKILL mid-stream, Redis stopped while answers arrive,
the database going away under the web app and the worker. Every answer must end up scored
exactly once; the web app must answer 503, not 500, and recover without a restart."""
from __future__ import annotations

import re
import signal
import time

import pytest
from celery import current_app
from django.db import close_old_connections
from django.db.models import Count
from django.test import Client

from quality.models import AnnotatorQuality
from quality.services import unscored_sweep
from tasks_app import services as task_services
from tasks_app.models import Answer, Item
from tests.conftest import wait_for
from tests.factories import customer_with_token
from tests.quality.test_scoring import answer, setup_project, worker

pytestmark = [pytest.mark.worker]


class Stream:
    """Answers from a few annotators over a project's items, each (annotator, item) once;
    hidden checks answered correctly (nobody gets revoked mid-test)."""

    def __init__(self, n_annotators: int = 4, n_items: int = 12, n_known: int = 12):
        self.project = setup_project(n_items=n_items, n_known=n_known, max_answers=10)
        self.users = [worker(self.project, f"f{i}-{self.project.pk}") for i in range(n_annotators)]
        items = list(Item.objects.filter(project=self.project).order_by("id"))
        self.pairs = [(u, it) for it in items for u in self.users]
        self.pairs.sort(key=lambda p: (p[1].pk * 31 + p[0].pk * 17) % 101)
        self.n = 0

    def submit(self) -> tuple[Answer, float]:
        u, item = self.pairs[self.n]
        self.n += 1
        item.refresh_from_db(fields=["assigned"])
        label = item.known_label if item.is_known else "a"
        t = time.perf_counter()
        a = answer(self.project, u, item, label)
        return a, time.perf_counter() - t


def sweep() -> int:
    """What the beat's quality.sweep_unscored does, without its 30 s age cut-off."""
    ids = unscored_sweep(older_than_seconds=0)
    for answer_id in ids:
        task_services.task_enqueue(task_services.SCORE_TASK, answer_id)
    return len(ids)


def explain(exc: Exception, project, redis_url: str, queue: str, w) -> str:
    """A scoring wait that timed out, with what the worker and the broker were doing: the answers
    still unscored, the queue's length (tasks sent but never taken), the drain flags set (a flag
    left set holds back the next submit's drain) and the worker log's tail."""
    import redis

    try:
        r = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
        broker = f"{r.llen(queue)} tasks in queue {queue!r}; drain flags set: {sorted(r.keys('cadre:score-drain:*'))}"
    except redis.exceptions.RedisError as e:
        broker = f"broker unreadable ({e})"
    unscored = Answer.objects.filter(project=project, scored_at__isnull=True).count()
    return f"{exc}\n{unscored} answers unscored; {broker}\n--- worker log (tail) ---\n{w.log()[-6000:]}"


def assert_scored_exactly_once(project) -> None:
    answers = Answer.objects.filter(project=project)
    assert not answers.filter(scored_at__isnull=True).exists()
    checks = dict(answers.filter(is_check=True).values_list("annotator_id").annotate(n=Count("id")))
    counted = dict(AnnotatorQuality.objects.filter(project=project).values_list("annotator_id", "checks"))
    assert counted == checks  # no check counted twice, none missed
    correct = dict(
        answers.filter(is_check=True, correct=True).values_list("annotator_id").annotate(n=Count("id"))
    )
    assert dict(AnnotatorQuality.objects.filter(project=project).values_list("annotator_id", "checks_correct")) == correct


@pytest.mark.django_db(transaction=True)
def test_kill_9_worker_mid_stream_then_new_worker_and_sweep_score_everything_once(fault_workers, shared_queue):
    import os

    import redis

    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    stream = Stream()
    first = fault_workers(os.environ["REDIS_URL"], shared_queue)
    answers = []
    for i in range(40):
        if i == 15:
            wait_for(lambda: Answer.objects.filter(project=stream.project, scored_at__isnull=False).exists(),
                     message="the first worker to score something")
            first.kill(signal.SIGKILL)  # main process and pool children, mid-stream
        answers.append(stream.submit()[0])
    assert first.proc.returncode == -signal.SIGKILL
    t_restart = time.monotonic()
    fault_workers(os.environ["REDIS_URL"], shared_queue)
    wait_for(lambda: broker.llen(shared_queue) == 0, message="the new worker to drain the queue")
    sweep()  # what the dead worker held (unacked until the 1 h visibility timeout) comes back this way
    wait_for(lambda: not Answer.objects.filter(project=stream.project, scored_at__isnull=True).exists(),
             timeout=30, message="every answer scored")
    assert time.monotonic() - t_restart < 30
    time.sleep(0.5)  # duplicate deliveries (sweep + queue) must change nothing
    assert len(answers) == Answer.objects.filter(project=stream.project).count() == 40
    assert_scored_exactly_once(stream.project)


@pytest.mark.django_db(transaction=True)
def test_answers_are_accepted_while_redis_is_down_and_scored_when_it_returns(fault_workers, private_redis, caplog):
    queue = "faults-redis"
    stream = Stream(n_annotators=3, n_items=8, n_known=8)
    from tests.faults.conftest import broker

    with broker(private_redis.url, queue):
        w = fault_workers(private_redis.url, queue)
        before = [stream.submit()[0] for _ in range(3)]
        try:
            wait_for(lambda: not Answer.objects.filter(pk__in=[a.pk for a in before], scored_at__isnull=True).exists(),
                     message="scoring with Redis up")
        except AssertionError as exc:
            raise AssertionError(explain(exc, stream.project, private_redis.url, queue, w)) from None

        private_redis.stop()
        t_down = time.monotonic()
        during, latencies = [], []
        # for 3 s, or until the stream runs out: a submit gives up on the broker at once now
        # (the drain flag's Redis client is refused), so the stream can end first
        while time.monotonic() - t_down < 3 and stream.n < len(stream.pairs):
            a, dt = stream.submit()  # must not raise
            during.append(a)
            latencies.append(dt)
        assert len(during) >= 3
        assert max(latencies) < 2.0, latencies  # the publish gives up fast (CELERY_TASK_PUBLISH_RETRY_POLICY)
        assert Answer.objects.filter(pk__in=[a.pk for a in during]).count() == len(during)  # stored
        assert Answer.objects.filter(pk__in=[a.pk for a in during], scored_at__isnull=True).count() == len(during)
        assert "could not enqueue quality.score_answer" in caplog.text

        private_redis.start()
        t_back = time.monotonic()
        caplog.clear()
        assert sweep() == len(during)  # the beat's sweep, run now
        assert "could not enqueue" not in caplog.text  # the re-sends reached the broker
        try:
            wait_for(lambda: not Answer.objects.filter(project=stream.project, scored_at__isnull=True).exists(),
                     timeout=40, message="the answers from the outage scored after Redis returned")
        except AssertionError as exc:
            raise AssertionError(explain(exc, stream.project, private_redis.url, queue, w)) from None
        assert time.monotonic() - t_back < 40
        assert "Connection to broker lost" in w.log()
        # the worker's reconnect pace (cadre.celery.BROKER_RECONNECT), not kombu's 2, 4, 6 … 30 s:
        # at that pace every attempt that misses Redis costs a longer wait (the suspected cause of a
        # loaded run that once waited past the 40 s above)
        waits = [0.0 if m[0] == "now" else float(m[1]) for m in re.findall(r"Trying again (now|in ([\d.]+) seconds?)", w.log())]
        assert waits and max(waits) <= 1.0, waits
        assert w.proc.poll() is None  # the worker rode it out
    assert_scored_exactly_once(stream.project)


@pytest.mark.django_db(transaction=True)
def test_database_outage_gives_503_then_recovers_without_restart_and_worker_retries(
    fault_workers, shared_queue, database_outage, monkeypatch
):
    import os

    customer = customer_with_token()
    stream = Stream(n_annotators=2, n_items=4, n_known=6)
    web = Client()
    web.force_login(stream.users[0])
    assert customer.client.get("/api/projects/").status_code == 200
    assert web.get("/").status_code == 200

    w = fault_workers(os.environ["REDIS_URL"], shared_queue)
    # Answers whose scoring task will be sent while the database is away.
    monkeypatch.setattr("tasks_app.services.answers.answer_scoring_enqueue", lambda answer_id: None)
    pending = [stream.submit()[0].pk for _ in range(3)]
    monkeypatch.undo()
    assert Answer.objects.filter(pk__in=pending, scored_at__isnull=True).count() == 3

    with database_outage():
        for answer_id in pending:  # straight to the broker: task_enqueue would need the database for on_commit
            current_app.signature(task_services.SCORE_TASK, args=(answer_id,)).delay()
        api = customer.client.get("/api/projects/")
        assert api.status_code == 503
        assert api["Content-Type"] == "application/json"
        assert "detail" in api.json()
        assert int(api["Retry-After"]) > 0
        page = web.get("/")
        assert page.status_code == 503
        assert page["Content-Type"].startswith("text/html")
        assert b"Back in a moment" in page.content and b"Traceback" not in page.content
        assert int(page["Retry-After"]) > 0
        time.sleep(2.5)  # the worker's first attempts fail and retry (every 2 s, 5 times)
    t_back = time.monotonic()
    # No restart of anything: the next requests reconnect. A web process runs Django's
    # close_old_connections on every request_started (it drops the connection that failed and
    # re-arms CONN_HEALTH_CHECKS); the test client disconnects that handler to keep the test's
    # connection, so do here what the request cycle does (bench/faults.py checks it for real
    # through gunicorn).
    close_old_connections()
    assert customer.client.get("/api/projects/").status_code == 200
    assert web.get("/").status_code == 200
    wait_for(lambda: not Answer.objects.filter(pk__in=pending, scored_at__isnull=True).exists(), timeout=15,
             message="the score tasks to succeed on retry")
    assert time.monotonic() - t_back < 15
    assert "Retry in" in w.log()
    assert w.proc.poll() is None
    assert_scored_exactly_once(stream.project)
