"""Fault scenarios on a real stack: a Celery worker killed with SIGKILL, Redis stopped, PostgreSQL
restarted under a web process. Writes its figures to BENCHMARKS.md between
``<!-- faults:start -->`` and ``<!-- faults:end -->``.

    .venv/bin/python bench/faults.py [--answers 300] [--redis-down 30] [--pg-down 5]

Everything runs on a throwaway PostgreSQL + Redis of its own (``platform/services.sh`` with
``CADRE_VAR_DIR=<tmpdir>`` on ``--pg-port``/``--redis-port``, default 55437/63807), never on the
shared 54329/63799 instances: a fresh database (``manage.py migrate``), real ``celery -A cadre
worker`` processes, a real gunicorn (``platform/gunicorn.conf.py``) on 127.0.0.1. Data is loaded
in this process through the services (``django.setup()`` on the throwaway URLs).

1. kill -9: answers are submitted while a worker scores them; the whole worker (main process and
   pool children, as an OOM kill or a container kill would) gets SIGKILL partway; a new worker
   starts; the sweep (``quality.services.unscored_sweep``, as ``quality.sweep_unscored`` does,
   but with no age cut-off) enqueues what is left → every answer scored exactly once.
2. Redis stopped for ``--redis-down`` seconds: answers keep being submitted (they must be
   stored; the publish fails fast and is logged), Redis comes back, the sweep scores them.
3. PostgreSQL stopped (``pg_ctl stop -m fast``) for ``--pg-down`` seconds while a client polls
   the API and the web app through gunicorn → 503s, not 500s; it returns → 200s again, same
   gunicorn. Meanwhile the worker holds score tasks that hit the dead database: they retry.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import stack  # bench/stack.py: the throwaway stack shared with bench/load.py
from stack import Proc, pct, throwaway_stack

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
START, END = "<!-- faults:start -->", "<!-- faults:end -->"
NOTES = (
    "Notes. (1) The dead worker's reserved messages stay in Redis's `unacked` hash until the 1 h `visibility_timeout`: `acks_late` + `reject_on_worker_lost` only cover a pool child dying, so after a kill of the whole worker it is the sweep that scores them (they are redelivered an hour later and skipped as already scored). (2) The throwaway Redis has no persistence (`--save ''`): whatever is queued when it stops is lost, and the sweep scores it. The worker tries to reconnect every second, for as long as it takes (`cadre/celery.py` `BROKER_RECONNECT`; with Celery's own kombu back-off, 2, 4, 6 … up to 30 s between tries, it reconnected 12.0 s after a 30 s outage). (3) While Redis is down, `answer_submit` works (the publish gives up after ~0.2 s, `CELERY_TASK_PUBLISH_RETRY_POLICY`) and so does handing out the next task: the cache fails open (`cadre/cache.py`), so the lease-expiry throttle, API throttles and login limits carry on without it. (4) The scoring task retries 5 times, 2 s apart: a database outage longer than ~10 s exhausts the retries and leaves those answers to the sweep."
)


def log(msg: str) -> None:
    stack.log(msg, tag="faults")


# --- the throwaway services ------------------------------------------------------------------

class Services(stack.Services):
    """bench/stack.py's throwaway PostgreSQL + Redis, plus the ways to break them."""

    def _pg_ctl(self, *args: str) -> None:
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))[-1]
        cmd = [str(bindir), *args, "-D", self.pgdata]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def pg_stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast", "-w", "-t", "30")

    def redis_stop(self) -> None:
        pid = int((self.var_dir / "redis" / "redis.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(250):
            try:
                os.kill(pid, 0)
                state = Path(f"/proc/{pid}/status").read_text()
                if "\nState:\tZ" in state:
                    break
            except (ProcessLookupError, FileNotFoundError):
                break
            time.sleep(0.02)

    def restart_missing(self) -> None:
        """services.sh start: starts what is stopped, leaves what runs."""
        self.script("start")


# --- worker and web processes ----------------------------------------------------------------

def worker(n: int, env: dict, log_dir: Path) -> Proc:
    return Proc(
        f"worker{n}",
        [PY, "-m", "celery", "-A", "cadre", "worker", "-l", "info", "-c", "2", "-n", f"faults{n}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env, log_dir, ready="ready.",
    )


# --- data ----------------------------------------------------------------------------------------

class Data:
    """One project, a few annotators; answers are made by leasing exactly one item and submitting
    through ``answer_submit`` (the service the web form calls)."""

    def __init__(self, n_items: int, n_known: int, n_annotators: int):
        from django.contrib.auth import get_user_model

        from tasks_app import services as ts
        from tasks_app.models import Item, Organization
        from workforce.models import Membership

        User = get_user_model()
        org = Organization.objects.create(name=f"faults-{uuid.uuid4().hex[:6]}")
        examples = [ts.ExampleIn(data={"t": f"tut{i}"}, label="a", role="tutorial") for i in range(2)]
        examples += [ts.ExampleIn(data={"t": f"q{i}"}, label="b", role="qualifier") for i in range(2)]
        examples += [ts.ExampleIn(data={"t": f"k{i}"}, label="a" if i % 2 else "b", role="known") for i in range(n_known)]
        self.project = ts.project_create(organization=org, name="faults", instructions="i", labels=["a", "b"],
                                         accuracy_target=0.9, examples=examples, max_answers=10)
        ts.items_upload(project=self.project, rows=[{"external_id": f"x{i}", "data": {"t": str(i)}} for i in range(n_items)])
        ts.project_launch(project=self.project)
        self.org = org
        self.annotators = []
        for i in range(n_annotators):
            u = User.objects.create_user(f"faults-{uuid.uuid4().hex[:6]}-{i}", password="long-enough-pass")
            Membership.objects.create(project=self.project, annotator=u, stage=Membership.Stage.WORKING,
                                      qualifier_correct=2, qualifier_total=2, tutorial_completed_at="2026-01-01T00:00Z")
            self.annotators.append(u)
        items = list(Item.objects.filter(project=self.project).order_by("id"))
        # Pairs (annotator, item) in an order that mixes checks and regular items; each pair once.
        self.pairs = [(u, it) for it in items for u in self.annotators]
        self.pairs.sort(key=lambda p: (p[1].pk * 7919 + p[0].pk * 104729) % 1000003)
        self.next_pair = 0

    def submit_one(self) -> tuple[int, float]:
        """One answer through the service; returns (answer id, seconds the call took)."""
        from datetime import timedelta

        from django.utils import timezone

        from tasks_app import services as ts
        from tasks_app.models import Lease

        u, item = self.pairs[self.next_pair]
        self.next_pair += 1
        lease = Lease.objects.create(item=item, project=self.project, annotator=u, expires_at=timezone.now() + timedelta(minutes=10))
        label = item.known_label if item.is_known else ("a" if item.pk % 3 else "b")  # checks right: nobody is revoked
        t = time.perf_counter()
        answer, created = ts.answer_submit(annotator=u, lease_id=lease.pk, label=label, client_key=uuid.uuid4().hex)
        elapsed = time.perf_counter() - t
        assert created
        return answer.pk, elapsed


def unscored() -> int:
    from tasks_app.models import Answer

    return Answer.objects.filter(scored_at__isnull=True).count()


def sweep_now() -> int:
    """What the beat's quality.sweep_unscored does, without its 30 s age cut-off."""
    from quality.services import unscored_sweep
    from tasks_app.services import SCORE_TASK, task_enqueue

    ids = unscored_sweep(older_than_seconds=0, limit=100000)
    for answer_id in ids:
        task_enqueue(SCORE_TASK, answer_id)  # outside a transaction: sent at once
    return len(ids)


def wait_scored(timeout: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if unscored() == 0:
            return time.monotonic()
        time.sleep(0.05)
    return None


def exactly_once() -> dict:
    """Every answer scored, and each annotator's check count equals their check answers."""
    from django.db.models import Count, Q

    from quality.models import AnnotatorQuality
    from tasks_app.models import Answer

    total = Answer.objects.count()
    scored = Answer.objects.filter(scored_at__isnull=False).count()
    per = {
        r["annotator_id"]: (r["n"], r["ok"])
        for r in Answer.objects.filter(is_check=True).values("annotator_id")
        .annotate(n=Count("id"), ok=Count("id", filter=Q(correct=True)))
    }
    aq = {a.annotator_id: (a.checks, a.checks_correct) for a in AnnotatorQuality.objects.all()}
    mismatched = {k: (per.get(k), aq.get(k)) for k in set(per) | set(aq) if per.get(k, (0, 0)) != aq.get(k, (0, 0))}
    return {"answers": total, "scored": scored, "checks": sum(n for n, _ in per.values()),
            "checks_counted": sum(c for c, _ in aq.values()), "mismatched": mismatched,
            "ok": total == scored and not mismatched}


# --- scenarios -------------------------------------------------------------------------------------

def scenario_kill(data: Data, n: int, env: dict, log_dir: Path, svc: Services) -> tuple[dict, Proc]:
    import redis

    r = redis.Redis.from_url(svc.urls["REDIS_URL"])
    w1 = worker(1, env, log_dir)
    kill_at = n // 3
    latencies = []
    ids = []
    t_kill = None
    scored_before_kill = None
    t_start = time.monotonic()
    for i in range(n):
        if i == kill_at:
            scored_before_kill = len(ids) - unscored()
            w1.stop(signal.SIGKILL)
            t_kill = time.monotonic()
            log(f"kill -9 worker1 after {i} answers ({scored_before_kill} scored)")
        aid, dt = data.submit_one()
        ids.append(aid)
        latencies.append(dt)
        time.sleep(0.01)
    t_submitted = time.monotonic()
    queued = r.llen("celery")
    unacked = r.hlen("unacked")
    w2 = worker(2, env, log_dir)
    t_w2 = time.monotonic()
    log(f"worker2 ready {t_w2 - t_kill:.1f}s after the kill; queue {queued}, unacked (held by the dead worker) {unacked}")
    # Let worker2 drain what is in the queue, then sweep what was lost with the dead worker.
    deadline = time.monotonic() + 120
    while r.llen("celery") and time.monotonic() < deadline:
        time.sleep(0.05)
    t_drained = time.monotonic()
    time.sleep(1.5)  # the last tasks taken from the queue finish
    left_after_drain = unscored()
    swept = sweep_now()
    t_done = wait_scored(120)
    time.sleep(2)  # let any duplicate deliveries run: they must change nothing
    check = exactly_once()
    return {
        "answers": n, "killed_after": kill_at, "scored_before_kill": scored_before_kill,
        "submit_p50_ms": 1000 * statistics.median(latencies), "submit_p95_ms": 1000 * pct(latencies, 0.95),
        "stream_seconds": t_submitted - t_start, "queued_at_restart": queued, "unacked_lost": unacked,
        "new_worker_ready_s": t_w2 - t_kill, "drained_s": t_drained - t_w2, "left_after_drain": left_after_drain,
        "swept": swept, "recovery_from_kill_s": (t_done - t_kill) if t_done else None,
        "recovery_from_restart_s": (t_done - t_w2) if t_done else None, "check": check,
        "lost_without_sweep": left_after_drain,
    }, w2


def scenario_redis(data: Data, down: float, svc: Services, w: Proc) -> dict:
    from django.db import close_old_connections

    from tasks_app import services as ts

    base = [data.submit_one()[1] for _ in range(20)]
    wait_scored(30)
    log(f"stopping Redis for {down:.0f}s")
    svc.redis_stop()
    t_stop = time.monotonic()
    lat, failures, ids = [], [], []
    lease_next_error = None
    while time.monotonic() - t_stop < down:
        try:
            aid, dt = data.submit_one()
            ids.append(aid)
            lat.append(dt)
        except Exception as exc:  # noqa: BLE001 - counting any failure is the point
            failures.append(repr(exc)[:200])
            close_old_connections()
        if lease_next_error is None and len(ids) == 5:
            try:
                ts.lease_next(project=data.project, annotator=data.annotators[0], known_check_rate=0.2)
                lease_next_error = "none"
            except Exception as exc:  # noqa: BLE001
                lease_next_error = f"{type(exc).__module__}.{type(exc).__name__}"
        time.sleep(0.05)
    from tasks_app.models import Answer

    stored = Answer.objects.filter(pk__in=ids).count()
    unscored_at_return = unscored()
    svc.restart_missing()
    t_back = time.monotonic()
    log(f"Redis back; {len(ids)} answers stored while it was down, {unscored_at_return} unscored")
    # the worker reconnects on its own; the sweep (beat) re-enqueues the answers
    t_reconnected = None
    deadline = time.monotonic() + 120
    swept = None
    while time.monotonic() < deadline:
        text = w.log_text()
        if t_reconnected is None and text.count("Connected to redis://") >= 2:
            t_reconnected = time.monotonic()
        if swept is None:
            try:
                swept = sweep_now()
                t_swept = time.monotonic()
            except Exception as exc:  # noqa: BLE001
                log(f"sweep failed: {exc!r}")
        if unscored() == 0:
            break
        time.sleep(0.05)
    t_done = time.monotonic() if unscored() == 0 else None
    time.sleep(1)
    return {
        "down_s": down, "submitted": len(ids), "stored": stored, "failures": len(failures), "failure_samples": failures[:3],
        "base_p50_ms": 1000 * statistics.median(base), "down_p50_ms": 1000 * statistics.median(lat) if lat else None,
        "down_p95_ms": 1000 * pct(lat, 0.95), "down_max_ms": 1000 * max(lat) if lat else None,
        "unscored_at_return": unscored_at_return, "swept": swept, "sweep_after_return_s": t_swept - t_back,
        "worker_reconnect_s": (t_reconnected - t_back) if t_reconnected else None,
        "scored_after_return_s": (t_done - t_back) if t_done else None, "lease_next_while_down": lease_next_error,
        "check": exactly_once(),
    }


def scenario_pg(data: Data, down: float, svc: Services, env: dict, log_dir: Path, w: Proc) -> dict:
    import socket

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from tasks_app import services as ts
    from tasks_app.models import Answer

    # the customer's API token and an annotator's session cookie
    from django.contrib.auth import get_user_model

    from tasks_app.models import CustomerMember

    customer = get_user_model().objects.create_user(f"cust-{uuid.uuid4().hex[:6]}", password="long-enough-pass")
    CustomerMember.objects.create(user=customer, organization=data.org)
    token = Token.objects.create(user=customer).key
    annotator = data.annotators[0]
    s = SessionStore()
    s[SESSION_KEY] = str(annotator.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = annotator.get_session_auth_hash()
    s.create()
    cookie = f"sessionid={s.session_key}"

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    web_env = dict(env, BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", LOG_LEVEL="INFO", DB_CONN_MAX_AGE="60")
    web = Proc("gunicorn", [PY, "-m", "gunicorn", "-c", "platform/gunicorn.conf.py", "cadre.wsgi:application"],
               web_env, log_dir, ready="Listening at")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/login/", timeout=5) as resp:
                if resp.status == 200:
                    break
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn does not answer:\n{web.log_text()[-3000:]}") from None
        time.sleep(0.2)

    results: list[tuple[float, str, int, str, str, str]] = []  # t, kind, status, content-type, retry-after, body head
    stop = threading.Event()

    def client() -> None:
        kinds = [("api", "/api/projects/", {"Authorization": f"Token {token}"}), ("web", "/", {"Cookie": cookie})]
        i = 0
        while not stop.is_set():
            kind, path, headers = kinds[i % 2]
            i += 1
            req = urllib.request.Request(base + path, headers=headers)
            t = time.monotonic()
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    results.append((t, kind, resp.status, resp.headers.get("Content-Type", ""), "", ""))
            except urllib.error.HTTPError as e:
                body = e.read()[:300].decode(errors="replace")
                results.append((t, kind, e.code, e.headers.get("Content-Type", ""), e.headers.get("Retry-After", ""), body))
            except Exception as e:  # noqa: BLE001 - connection failures count too
                results.append((t, kind, -1, "", "", repr(e)[:200]))
            time.sleep(0.05)

    # Answers whose scoring was never sent: their tasks are sent while PostgreSQL is down.
    import tasks_app.services as tsm

    real_enqueue = tsm.task_enqueue
    tsm.task_enqueue = lambda name, *args: None
    try:
        pending = [data.submit_one()[0] for _ in range(10)]
    finally:
        tsm.task_enqueue = real_enqueue

    th = threading.Thread(target=client, daemon=True)
    th.start()
    time.sleep(3)
    connections.close_all()
    t_stop0 = time.monotonic()
    svc.pg_stop()
    t_stopped = time.monotonic()
    log(f"PostgreSQL stopped ({t_stopped - t_stop0:.2f}s); worker gets 10 score tasks now")
    from celery import current_app

    for aid in pending:  # straight to the broker: task_enqueue's on_commit would itself need the database
        current_app.signature(ts.SCORE_TASK, args=(aid,)).delay()
    time.sleep(down)
    t_start0 = time.monotonic()
    svc.restart_missing()
    t_started = time.monotonic()
    log(f"PostgreSQL started again ({t_started - t_start0:.2f}s)")
    time.sleep(5)
    stop.set()
    th.join()
    web_log = web.log_text()
    web.stop(signal.SIGTERM)

    before = [r for r in results if r[0] < t_stop0]
    during = [r for r in results if t_stop0 <= r[0] < t_started]
    after = [r for r in results if r[0] >= t_started]
    first_ok_after = min((r[0] for r in after if r[2] == 200), default=None)
    errors_after = [r for r in after if r[2] != 200]
    codes = lambda rs: {c: sum(1 for r in rs if r[2] == c) for c in sorted({r[2] for r in rs})}  # noqa: E731
    api503 = next((r for r in results if r[1] == "api" and r[2] == 503), None)
    web503 = next((r for r in results if r[1] == "web" and r[2] == 503), None)
    deadline = time.monotonic() + 60
    while Answer.objects.filter(pk__in=pending, scored_at__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    pending_left = Answer.objects.filter(pk__in=pending, scored_at__isnull=True).count()
    wlog = w.log_text()
    return {
        "down_s": t_started - t_stop0, "requests": len(results), "before": codes(before), "during": codes(during),
        "after": codes(after), "n503": sum(1 for r in results if r[2] == 503), "n500": sum(1 for r in results if r[2] == 500),
        "nconn": sum(1 for r in results if r[2] == -1),
        "recovery_s": (first_ok_after - t_started) if first_ok_after else None, "errors_after_restart": len(errors_after),
        "api503": api503 and {"content_type": api503[3], "retry_after": api503[4], "body": api503[5]},
        "web503": web503 and {"content_type": web503[3], "retry_after": web503[4], "body": web503[5][:120]},
        "tracebacks_in_web_log": web_log.count("Traceback"),
        "pending_scored_by_retry": len(pending) - pending_left, "pending": len(pending),
        "worker_retries": wlog.count("Retry in"), "worker_alive": w.proc.poll() is None,
        "check": exactly_once(),
    }


# --- report -----------------------------------------------------------------------------------

def fmt(v, digits=1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def fmt_codes(codes: dict) -> str:
    return ", ".join(f"{n}× {'refused' if c == -1 else c}" for c, n in codes.items()) or "—"


def report(cmd: str, k: dict, r: dict, p: dict, cpu: int) -> str:
    kc, rc, pc = k["check"], r["check"], p["check"]
    lines = [
        START,
        f"Obtained with `{cmd}` on a {cpu}-core machine: a throwaway PostgreSQL 15+ and Redis of the script's own "
        "(`platform/services.sh` on other ports), a fresh database (`manage.py migrate`), real `celery -A cadre worker "
        "-c 2` processes, a real gunicorn (`platform/gunicorn.conf.py`, 2 workers, `DB_CONN_MAX_AGE=60`). Answers are "
        "submitted in the script's process through `tasks_app.services.answer_submit`. \"Sweep\" = what the beat task "
        "`quality.sweep_unscored` does, run once by the script at the moment given, with no age cut-off; in production "
        "add up to `SWEEP_SECONDS` (60) + the sweep's 30 s age cut-off. CI runs the same scenarios, smaller, in "
        "`tests/faults/test_faults.py`.",
        "",
        "**1. `kill -9` of the worker mid-stream** (SIGKILL to the worker's whole process group: main process and pool children)",
        "",
        "| answers | killed after | scored before the kill | messages held by the dead worker (unacked, visibility timeout 1 h) | queued for the new worker | new worker ready after kill | unscored once it had run the whole queue (lost without the sweep) | swept | all scored, from the kill | from the new worker | exactly once |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {k['answers']} | {k['killed_after']} | {k['scored_before_kill']} | {k['unacked_lost']} | {k['queued_at_restart']} | "
        f"{fmt(k['new_worker_ready_s'])} s | {k['left_after_drain']} | {k['swept']} | {fmt(k['recovery_from_kill_s'])} s | "
        f"{fmt(k['recovery_from_restart_s'])} s | {'yes' if kc['ok'] else 'NO'}: {kc['scored']}/{kc['answers']} scored, "
        f"checks counted {kc['checks_counted']} = check answers {kc['checks']} |",
        "",
        f"**2. Redis stopped for {fmt(r['down_s'], 0)} s** while answers keep arriving",
        "",
        "| answers submitted while down | stored | submit failures | submit p50 with Redis up | p50 / p95 / max while down | unscored when Redis returned | swept | worker reconnected after | all scored after Redis returned | exactly once | next task (`lease_next`) while down |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {r['submitted']} | {r['stored']} | {r['failures']} | {fmt(r['base_p50_ms'])} ms | {fmt(r['down_p50_ms'], 0)} / "
        f"{fmt(r['down_p95_ms'], 0)} / {fmt(r['down_max_ms'], 0)} ms | {r['unscored_at_return']} | {r['swept']} | "
        f"{fmt(r['worker_reconnect_s'])} s | {fmt(r['scored_after_return_s'])} s | {'yes' if rc['ok'] else 'NO'} | "
        f"{'fails: ' + r['lease_next_while_down'] if r['lease_next_while_down'] not in (None, 'none') else 'works'} |",
        "",
        f"**3. PostgreSQL stopped (`pg_ctl stop -m fast`) for {fmt(p['down_s'])} s** under a client polling "
        "`GET /api/projects/` (token) and `GET /` (session) through gunicorn, every 50 ms",
        "",
        "| requests | before the stop | from `pg_ctl stop` to PostgreSQL up again | after | 503s | 500s | refused connections | first 200 after PostgreSQL was up | non-200 after it was up | tracebacks in gunicorn's log | score tasks sent while down, scored by the task's own retries | exactly once |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {p['requests']} | {fmt_codes(p['before'])} | {fmt_codes(p['during'])} | {fmt_codes(p['after'])} | {p['n503']} | {p['n500']} | {p['nconn']} | "
        f"{fmt(p['recovery_s'], 2)} s | {p['errors_after_restart']} | {p['tracebacks_in_web_log']} | "
        f"{p['pending_scored_by_retry']} of {p['pending']} ({p['worker_retries']} retries logged) | {'yes' if pc['ok'] else 'NO'} |",
        "",
        f"503 bodies: API `{(p['api503'] or {}).get('content_type')}` `{(p['api503'] or {}).get('body', '').strip()}` "
        f"(Retry-After {(p['api503'] or {}).get('retry_after')}); web `{(p['web503'] or {}).get('content_type')}`, a short HTML page.",
        "",
        NOTES,
        END,
    ]
    return "\n".join(lines)


def write_benchmarks(section: str, path: Path) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if START in text and END in text:
        a = text.index(START)
        b = text.index(END) + len(END)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n## Faults\n\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--answers", type=int, default=300)
    ap.add_argument("--redis-down", type=float, default=30.0)
    ap.add_argument("--pg-down", type=float, default=5.0)
    ap.add_argument("--pg-port", type=int, default=55437)
    ap.add_argument("--redis-port", type=int, default=63807)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = ap.parse_args()
    cmd = ".venv/bin/python bench/faults.py" + "".join(
        f" --{k} {v}" for k, v in (("answers", args.answers), ("redis-down", int(args.redis_down)), ("pg-down", int(args.pg_down)))
    )

    with throwaway_stack("cadre-faults-", args.pg_port, args.redis_port, keep=args.keep, services=Services,
                         tag="faults") as st:
        svc, log_dir = st.svc, st.log_dir
        env = dict(os.environ, DATABASE_URL=svc.urls["DATABASE_URL"], REDIS_URL=svc.urls["REDIS_URL"], PYTHONPATH=str(ROOT))
        stack.migrate(env)
        stack.django_setup(env)
        import logging

        logging.getLogger("tasks_app.services").setLevel(logging.ERROR)  # one warning per answer while Redis is down
        data = Data(n_items=max(60, args.answers // 4), n_known=max(60, args.answers // 4), n_annotators=10)

        k, w2 = scenario_kill(data, args.answers, env, log_dir, svc)
        st.procs.append(w2)
        log(f"kill -9: {json.dumps(k, default=str)}")
        r = scenario_redis(data, args.redis_down, svc, w2)
        log(f"redis: {json.dumps(r, default=str)}")
        p = scenario_pg(data, args.pg_down, svc, env, log_dir, w2)
        log(f"postgres: {json.dumps(p, default=str)}")
        section = report(cmd, k, r, p, os.cpu_count() or 0)
        if args.no_write:
            print(section)
        else:
            write_benchmarks(section, Path(args.out))
            log(f"wrote {args.out}")
        ok = k["check"]["ok"] and r["check"]["ok"] and p["check"]["ok"] and r["failures"] == 0 and p["n500"] == 0
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
