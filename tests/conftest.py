"""Shared fixtures.

The test command (``make test``) starts PostgreSQL and Redis and exports ``DATABASE_URL``
and ``REDIS_URL``; pytest-django creates the ``test_<name>`` database on that server.

Celery: tests run tasks in-process (eager) unless they ask for ``celery_worker``, which
starts a real ``celery -A cadre worker`` process on Redis, connected to the test database.
Tests using it need ``@pytest.mark.django_db(transaction=True)`` so their rows are
committed and visible to the worker.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from cadre.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent

requires_postgres = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL (make test starts it)",
)


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Run Celery tasks in-process unless the test uses the real worker."""
    if "celery_worker" in request.fixturenames:
        yield
        return
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = old


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}{':' + db['PASSWORD'] if db.get('PASSWORD') else ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process on Redis, pointed at the test database."""
    if not os.environ.get("REDIS_URL") or "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("the real worker needs REDIS_URL and PostgreSQL (make test starts both)")
    with django_db_blocker.unblock():
        db_url = _test_database_url()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    log_file = tmp_path_factory.mktemp("celery") / "worker.log"
    env = dict(os.environ, DATABASE_URL=db_url, DB_CONN_MAX_AGE="0", CELERY_TEST_QUEUE=queue)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cadre", "worker", "-l", "info", "-c", "2", "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}@%h"],
        cwd=ROOT,
        env=env,
        stdout=open(log_file, "w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    ready = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if "ready" in log_file.read_text():
            ready = True
            break
        time.sleep(0.2)
    if not ready:
        proc.kill()
        raise RuntimeError(f"celery worker did not start:\n{log_file.read_text()[-4000:]}")
    old_routes = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield {"process": proc, "log": log_file, "queue": queue}
    celery_app.conf.task_default_queue = old_routes
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def celery_worker(celery_worker_process):
    """Per-test handle on the session's real worker; tasks are sent to it, not run eagerly."""
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield celery_worker_process
    celery_app.conf.task_always_eager = old


def run_at_once(users, work) -> list[BaseException]:
    """Run ``work(user)`` in one thread per user, all released by a barrier at the same
    moment; each thread closes its own database connection. Returns the errors raised.
    Shared by the concurrency tests (leases, conversations, checks, pay)."""
    from django.db import close_old_connections, connection

    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def body(user):
        try:
            barrier.wait()
            work(user)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=body, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    """Poll until ``predicate()`` is truthy (used while a real worker catches up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every test hashes passwords with MD5 instead of the production PBKDF2 (1,000,000 rounds,
    ~0.31 s of CPU per user on the 2-core CI machine): ``UserFactory`` and ``create_user(...,
    password=...)`` hash one per user, and the suites that did not import
    the old per-directory fixture (quality, tasks_app, api, deliveries, task_types,
    hardening, most of dashboards) paid it for every user they made. No test is about the hasher's
    strength; the login and sign-up tests still hash and check for real, only faster."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _generous_login_limits(settings):
    """Login/sign-up limits count per client IP in the shared Redis, and every test client
    is 127.0.0.1: without this, a suite run (or two in a row) trips the sign-up limit.
    tests/hardening sets its own low limits on top of this."""
    settings.CADRE_SIGNUP_RATE_IP = "100000/5m"
    settings.CADRE_LOGIN_RATE_IP = "100000/5m"
    settings.CADRE_LOGIN_RATE_USER = "100000/5m"
