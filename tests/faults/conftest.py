"""Fixtures for the fault tests: workers of their own that may be killed, a Redis of their own
that may be stopped, and a way to make the test database refuse connections.

None of them disturbs the shared stack: the shared Redis only carries a queue named for the
test, the Redis that gets stopped is a private ``redis-server`` on a free port, and only the
test database (not the cluster) is closed to connections.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from cadre.celery import app as celery_app
from tests.conftest import ROOT, _test_database_url


def _needs_stack() -> None:
    if not os.environ.get("REDIS_URL") or "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("fault tests need REDIS_URL and PostgreSQL (make test starts both)")


class WorkerProc:
    """A ``celery -A cadre worker`` in its own process group (so SIGKILL takes the children too)."""

    def __init__(self, env: dict, queue: str, log_file: Path):
        self.log_file = log_file
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "cadre", "worker", "-l", "info", "-c", "2", "-Q", queue,
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{log_file.stem}-{queue}@%h"],
            cwd=ROOT, env=env, stdout=open(log_file, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115 - the child owns it
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if "ready." in self.log():
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"celery worker did not start:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@contextmanager
def broker(url: str, queue: str):
    """Send this process's tasks to ``url`` / ``queue`` for real (not eagerly)."""
    conf = celery_app.conf
    old = (conf.broker_url, conf.task_default_queue, conf.task_always_eager)

    def reset_pools() -> None:
        # Drop this app's references only: kombu keeps one pool per broker URL process-wide,
        # and closing it would break the next test that sends to the same URL.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    reset_pools()
    conf.broker_url, conf.task_default_queue, conf.task_always_eager = url, queue, False
    try:
        yield
    finally:
        reset_pools()
        conf.broker_url, conf.task_default_queue, conf.task_always_eager = old


@pytest.fixture
def fault_workers(django_db_setup, django_db_blocker, tmp_path):
    """``start(redis_url, queue)`` → a worker on the test database; all killed at teardown."""
    _needs_stack()
    with django_db_blocker.unblock():
        db_url = _test_database_url()
    started: list[WorkerProc] = []

    def start(redis_url: str, queue: str) -> WorkerProc:
        # CELERY_TEST_QUEUE: the worker's default queue is the test's, as for the suite's worker
        # (tests/conftest.py). Without it the worker's drain cleared the flag of queue "celery"
        # while the test's submits set the flag of theirs (the flag is per queue): a submit that
        # found its flag still set published no drain, and its answer waited for the sweep (a
        # loaded run timed out on "scoring with Redis up" that way). Its own sends (hand-overs,
        # re-estimates, audits) also went to a queue nobody here consumes.
        env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=redis_url, DB_CONN_MAX_AGE="60", CELERY_TEST_QUEUE=queue)
        w = WorkerProc(env, queue, tmp_path / f"worker{len(started) + 1}.log")
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill(signal.SIGTERM)


@pytest.fixture
def shared_queue():
    """A queue of the test's own on the shared Redis, with this process sending to it."""
    _needs_stack()
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    with broker(os.environ["REDIS_URL"], queue):
        yield queue
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue)


class PrivateRedis:
    """A ``redis-server`` on a free port that a test may stop and start again."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def private_redis(tmp_path):
    _needs_stack()
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (platform/services.sh installs it)")
    r = PrivateRedis(tmp_path)
    r.start()
    yield r
    r.stop()


@pytest.fixture
def database_outage(django_db_blocker):
    """``with database_outage():`` the test database refuses new connections and its open ones are
    terminated, as during a PostgreSQL restart; other databases of the cluster are untouched."""
    import psycopg

    db = connection.settings_dict
    name = db["NAME"]

    def admin():
        return psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db.get("PASSWORD") or None,
                               dbname="postgres", autocommit=True)

    def set_allowed(allowed: bool) -> None:
        with admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}')
            if not allowed:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])

    @contextmanager
    def outage():
        set_allowed(False)
        try:
            yield
        finally:
            set_allowed(True)

    yield outage
    set_allowed(True)
