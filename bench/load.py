"""Load test of the annotator hot path on the production stack (issue 9). Writes its figures to
BENCHMARKS.md between ``<!-- load:start -->`` and ``<!-- load:end -->`` (throughput, latency, the CPU
breakdown) and, when asked for, ``<!-- load-size:start -->``/``end`` (project size, scoring cost).

    .venv/bin/python bench/load.py                 # defaults: 32 annotators, 60 s, protocols two + one, 3 workers
    .venv/bin/python bench/load.py [--annotators 32] [--seconds 60] [--items 10000] [--workers 3,2x4]
                                   [--protocol two,one] [--profile 200] [--think 256x2000]
    .venv/bin/python bench/load.py --workers '' --profile 0 --big-items 1000000 --score-history 10,10000

Everything on 127.0.0.1 and throwaway (``bench/stack.py``): PostgreSQL + Redis of its own on
``--pg-port``/``--redis-port`` (default 55461/63831), ``manage.py migrate``, a real gunicorn
(``platform/gunicorn.conf.py``, ``WEB_CONCURRENCY`` = each value of ``--workers``; "2x4" = 2 workers
× 4 threads), one ``celery -A cadre worker -c 2``. Data is loaded through the services in this
process: a live project with ``--items`` items and 50 hidden known-answer items, ``--annotators``
annotators already qualified (membership in stage ``working``), each with a session created in the
database (the cookie a login would set).

Each annotator thread works like the task page: GET ``/projects/<id>/task/`` once, then parse the
form and POST the answer. Protocol "one" (the page's own form, ``then=next``): the POST answers
with the next task page, so each annotation is one request. Protocol "two" (the form without
``then``): the POST redirects (302) and the next GET fetches the task. Protocol "json" (what the
page's script really does, workbench.js): the first GET of the page, then each answer is POSTed to
``task/next.json`` with the CSRF token in ``X-CSRFToken`` and the reply is the next task as JSON
(lease values and the item's content fragment), so each annotation is one POST and no page is
rendered. One loop = one annotation.

After each run, in the database: items given to more annotators than they need (answers >
wanted, or answers + live leases > wanted), and scoring lag (answer ``created_at`` → ``scored_at``).
``--profile N`` then runs N annotations one at a time in this process and splits their CPU by part.
``LOAD_SHOW_SQL=1`` also logs the SQL of the profile's last annotation.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import http.client
import random
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from stack import (ROOT, CpuMeter, Proc, celery_worker, django_setup, gunicorn, log, migrate, pct, throwaway_stack,
                   write_section)

START, END = "<!-- load:start -->", "<!-- load:end -->"
# the size comparison and the scoring cost: a section of their own, so the quick default run does not erase them
SIZE_START, SIZE_END = "<!-- load-size:start -->", "<!-- load-size:end -->"
PORT = 18461
LABELS = ["cat", "dog", "bird"]

RX = {k: re.compile(rf'name="{k}" value="([^"]*)"') for k in ("csrfmiddlewaretoken", "lease_id", "client_key", "started")}
RX_LABEL = re.compile(r'name="label" value="([^"]*)"')
RX_TEXT = re.compile(r'class="item-text">(?:item|known) (\d+)')
ACCURACY = 0.95  # how often the simulated annotator picks the true label


def truth(page: str, labels: list[str]) -> str | None:
    """The true label of the item shown: items and known items are numbered, the label is the
    number modulo 3 (as ``make_project`` builds them). Nothing hidden is read: only the text shown."""
    m = RX_TEXT.search(page)
    return labels[int(m.group(1)) % len(labels)] if m and labels else None


# --- data ------------------------------------------------------------------------------------------

def make_project(n_items: int, n_known: int = 50, name: str = "load"):
    from tasks_app import services as ts
    from tasks_app.models import Organization

    org = Organization.objects.create(name=f"{name}-{uuid.uuid4().hex[:6]}")
    examples = [ts.ExampleIn(data={"text": f"tutorial {i}"}, label="cat", role="tutorial") for i in range(3)]
    examples += [ts.ExampleIn(data={"text": f"qualifier {i}"}, label="dog", role="qualifier") for i in range(3)]
    examples += [ts.ExampleIn(data={"text": f"known {i}"}, label=LABELS[i % 3], role="known")
                 for i in range(n_known)]
    project = ts.project_create(organization=org, name=name, instructions="Which animal is it?",
                                labels=LABELS, accuracy_target=0.9, examples=examples, max_answers=5)
    t0 = time.monotonic()
    rows = ({"external_id": f"x{i}", "data": {"text": f"item {i} " + "lorem ipsum " * 8}} for i in range(n_items))
    ts.items_upload(project=project, rows=rows)
    log(f"project {project.pk}: {n_items} items uploaded in {time.monotonic() - t0:.1f} s")
    ts.project_launch(project=project)
    return project


def make_annotators(n: int) -> list:
    from django.contrib.auth import get_user_model

    from workforce.models import AnnotatorProfile

    User = get_user_model()
    users = []
    for i in range(n):
        u = User.objects.create_user(f"load-{uuid.uuid4().hex[:8]}-{i}", password=None)
        AnnotatorProfile.objects.create(user=u, display_name=u.username)
        users.append(u)
    return users


def join(project, users) -> None:
    from workforce.models import Membership

    for u in users:
        Membership.objects.create(project=project, annotator=u, stage=Membership.Stage.WORKING, qualifier_correct=3,
                                  qualifier_total=3, tutorial_completed_at="2026-01-01T00:00Z")


def session_cookie(user) -> str:
    """The session a login would create (same keys as django.contrib.auth.login)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0] if getattr(settings, "AUTHENTICATION_BACKENDS", None) \
        else "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


# --- client ----------------------------------------------------------------------------------------

@dataclass
class Stats:
    get_ms: list = field(default_factory=list)
    post_ms: list = field(default_factory=list)
    loops: int = 0
    errors: dict = field(default_factory=dict)
    empty: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Annotator(threading.Thread):
    """One annotator. ``protocol`` "one": the page's own form (``then=next``), so each submit
    answers with the next task page: one POST per annotation after the first GET. "two": the
    form without ``then`` (post/redirect/get): GET the task, POST the answer (302), GET again."""

    def __init__(self, project_id: int, session_key: str, stop_at: float, stats: Stats, lock: threading.Lock, seed: int,
                 protocol: str = "one", think_ms: float = 0.0):
        super().__init__(daemon=True)
        self.protocol = protocol
        self.think_ms = think_ms
        self.path = f"/projects/{project_id}/task/"
        self.cookies = {"sessionid": session_key}
        self.stop_at = stop_at
        self.stats = stats
        self.lock = lock
        self.rng = random.Random(seed)
        self.conn: http.client.HTTPConnection | None = None
        self.port = PORT  # bench/web_ab.py --together points annotators at several servers at once

    def request(self, method: str, body: str | None = None, path: str | None = None,
                extra: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Host": f"127.0.0.1:{self.port}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{self.path}"
        headers.update(extra or {})
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path or self.path, body=body, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if value in ("", '""') or "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        if resp.getheader("Connection", "").lower() == "close" or resp.will_close:
            self.conn.close()
            self.conn = None
        return resp.status, text

    def run(self) -> None:
        if self.protocol == "json":
            return self.run_json()
        st = self.stats
        page: str | None = None  # the task page in hand (protocol "one": the last POST's answer)
        while time.monotonic() < self.stop_at:
            try:
                if page is None:
                    t0 = time.perf_counter()
                    status, page = self.request("GET")
                    ms = (time.perf_counter() - t0) * 1000
                    with self.lock:
                        st.get_ms.append(ms)
                    if status != 200:
                        with self.lock:
                            st.error(f"GET {status}")
                        page = None
                        continue
                form = {k: rx.search(page) for k, rx in RX.items()}
                if form["lease_id"] is None:
                    with self.lock:
                        st.empty += 1
                    page = None
                    time.sleep(0.05)
                    continue
                labels = RX_LABEL.findall(page)
                data = {k: html.unescape(m.group(1)) for k, m in form.items()}
                true = truth(page, labels)
                if true is None:
                    with self.lock:
                        st.error("no item text")
                    true = labels[0]
                wrong = [x for x in labels if x != true]
                data["label"] = true if self.rng.random() < ACCURACY else self.rng.choice(wrong)
                # what the page's script reports (README "Behaviour signals")
                data.update(visible_ms=str(self.rng.randint(800, 6000)), pastes="0", blurs=str(self.rng.randint(0, 1)))
                if self.protocol == "one":
                    data["then"] = "next"
                if self.think_ms:  # reading the item and choosing: uniform in 0.5-1.5 × the mean
                    time.sleep(min(self.think_ms * self.rng.uniform(0.5, 1.5) / 1000, max(0.0, self.stop_at - time.monotonic())))
                t2 = time.perf_counter()
                status, body = self.request("POST", urllib.parse.urlencode(data))
                t3 = time.perf_counter()
                page = body if status == 200 else None
                with self.lock:
                    if status in (200, 302):
                        st.post_ms.append((t3 - t2) * 1000)
                        st.loops += 1
                    else:
                        st.error(f"POST {status}")
            except Exception as exc:  # noqa: BLE001
                page = None
                with self.lock:
                    st.error(type(exc).__name__)


    def answer(self, text_html: str, labels: list[str]) -> dict:
        """The label and the behaviour signals, as the simulated person gives them."""
        true = truth(text_html, labels)
        if true is None:
            with self.lock:
                self.stats.error("no item text")
            true = labels[0]
        wrong = [x for x in labels if x != true]
        label = true if self.rng.random() < ACCURACY else self.rng.choice(wrong)
        if self.think_ms:
            time.sleep(min(self.think_ms * self.rng.uniform(0.5, 1.5) / 1000, max(0.0, self.stop_at - time.monotonic())))
        return {"label": label, "visible_ms": str(self.rng.randint(800, 6000)), "pastes": "0",
                "blurs": str(self.rng.randint(0, 1))}

    def run_json(self) -> None:
        """Protocol "json", as workbench.js: GET the page once (its form: CSRF token, labels, the
        first lease), then POST each answer to the JSON URL and take the next lease from the reply.
        A reply without a task ("empty", "reload", a 409 for a lost lease) goes back to the page."""
        st = self.stats
        json_path = self.path + "next.json"
        form: dict | None = None
        labels: list[str] = []
        text = ""
        while time.monotonic() < self.stop_at:
            try:
                if form is None:
                    t0 = time.perf_counter()
                    status, page = self.request("GET")
                    with self.lock:
                        st.get_ms.append((time.perf_counter() - t0) * 1000)
                    found = {k: rx.search(page) for k, rx in RX.items()}
                    if status != 200 or found["lease_id"] is None:
                        with self.lock:
                            if status != 200:
                                st.error(f"GET {status}")
                            else:
                                st.empty += 1
                        time.sleep(0.05)
                        continue
                    form = {k: html.unescape(m.group(1)) for k, m in found.items()}
                    labels = RX_LABEL.findall(page)
                    text = page
                data = {**form, **self.answer(text, labels), "then": "next"}
                t2 = time.perf_counter()
                status, body = self.request("POST", urllib.parse.urlencode(data), path=json_path,
                                            extra={"X-CSRFToken": form["csrfmiddlewaretoken"], "Accept": "application/json"})
                t3 = time.perf_counter()
                reply = json.loads(body) if status in (200, 400, 403, 409) else {}
                with self.lock:
                    if status == 200:
                        st.post_ms.append((t3 - t2) * 1000)
                        st.loops += 1
                    else:
                        st.error(f"POST {status}")
                if status == 200 and reply.get("state") == "task":
                    form.update(lease_id=str(reply["lease_id"]), client_key=reply["client_key"], started=reply["started"])
                    text = reply["content_html"]
                else:
                    form = None
            except Exception as exc:  # noqa: BLE001
                form = None
                with self.lock:
                    st.error(type(exc).__name__)


# --- one run ---------------------------------------------------------------------------------------

def db_checks(project, since) -> dict:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            """SELECT count(*) FILTER (WHERE i.answers_count > i.answers_wanted),
                      count(*) FILTER (WHERE i.answers_count + coalesce(l.n, 0) > i.answers_wanted),
                      count(*) FILTER (WHERE i.answers_count > 0)
               FROM tasks_app_item i
               LEFT JOIN (SELECT item_id, count(*) n FROM tasks_app_lease WHERE state = 'active' AND expires_at > now()
                          GROUP BY item_id) l ON l.item_id = i.id
               WHERE i.project_id = %s AND NOT i.is_known""", [project.pk])
        over_answers, over_leases, answered = c.fetchone()
        c.execute("""SELECT count(*) FROM (SELECT item_id, annotator_id FROM tasks_app_answer WHERE project_id = %s
                     GROUP BY 1, 2 HAVING count(*) > 1) d""", [project.pk])
        dup = c.fetchone()[0]
        c.execute("""SELECT count(*), count(*) FILTER (WHERE scored_at IS NULL) FROM tasks_app_answer
                     WHERE project_id = %s""", [project.pk])
        answers, unscored = c.fetchone()
    return {"over_answers": over_answers, "over_leases": over_leases, "answered_items": answered, "dup": dup,
            "answers": answers, "unscored": unscored}


def scoring_lag(project) -> dict:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("""SELECT extract(epoch FROM scored_at - created_at) * 1000 FROM tasks_app_answer
                     WHERE project_id = %s AND scored_at IS NOT NULL""", [project.pk])
        lags = [float(r[0]) for r in c.fetchall()]
    return {"p50": pct(lags, 0.5), "p99": pct(lags, 0.99), "n": len(lags)}


def wait_scored(project, timeout: float) -> float:
    from tasks_app.models import Answer

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not Answer.objects.filter(project=project, scored_at__isnull=True).exists():
            break
        time.sleep(0.5)
    return time.monotonic() - t0


def run_load(project, users, seconds: float, meter: CpuMeter | None = None, protocol: str = "one",
             think_ms: float = 0.0) -> dict:
    from django.db import connection

    keys = [session_cookie(u) for u in users]
    connection.close()  # the checks afterwards open a fresh one; nothing held during the run
    stats, lock = Stats(), threading.Lock()
    t_start = time.monotonic()
    stop_at = t_start + seconds
    threads = [Annotator(project.pk, k, stop_at, stats, lock, seed=i, protocol=protocol, think_ms=think_ms)
               for i, k in enumerate(keys)]
    load0 = os.getloadavg()[0]
    if meter:
        meter.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.monotonic() - t_start
    cpu = meter.stop() if meter else {}
    checks = db_checks(project, None)
    unscored_end = checks["unscored"]
    waited = wait_scored(project, 120)
    lag = scoring_lag(project)
    checks_after = db_checks(project, None)
    return {
        "loops": stats.loops, "elapsed": elapsed, "rate": stats.loops / elapsed, "protocol": protocol, "think_ms": think_ms,
        "annotators": len(users),
        "loadavg": (load0, os.getloadavg()[0]), "n_get": len(stats.get_ms),
        "get": {q: pct(stats.get_ms, q) for q in (0.5, 0.95, 0.99)},
        "post": {q: pct(stats.post_ms, q) for q in (0.5, 0.95, 0.99)},
        "errors": dict(stats.errors), "empty": stats.empty, "raw": {"get": stats.get_ms, "post": stats.post_ms},
        "cpu": cpu, "checks": checks_after, "unscored_end": unscored_end, "waited": waited, "lag": lag,
    }


def score_cost(history_sizes: list[int], n: int = 200) -> list[dict]:
    """Time ``answer_score`` in-process for answers of annotators who already have ``h`` scored
    answers each in the project (regular items; plus checks on the known items). One annotator
    per history size, all set up first; their new answers (the same items for all) are then
    scored in turn, rotating which size goes first, so background load on a shared machine
    falls on every size alike."""
    from django.db import connection
    from django.utils import timezone

    from quality.services import answer_score
    from tasks_app.models import Answer, Item

    top = max(history_sizes)
    project = make_project(top + n, name="scoring")
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id").values_list("id", flat=True))
    known = list(Item.objects.filter(project=project, is_known=True).order_by("id").values_list("id", flat=True))
    now = timezone.now()
    new: dict[int, list] = {}
    for h in history_sizes:
        (user,) = make_annotators(1)
        join(project, [user])
        Answer.objects.bulk_create(
            [Answer(item_id=i, project=project, annotator=user, label="cat", client_key=f"h{i}", scored_at=now)
             for i in regular[:h]], batch_size=2000)
        mine = [Answer(item_id=i, project=project, annotator=user, label="dog", client_key=f"n{i}") for i in regular[top:top + n]]
        mine += [Answer(item_id=i, project=project, annotator=user, label="dog", client_key=f"k{i}", is_check=True)
                 for i in known]
        new[h] = Answer.objects.bulk_create(mine)
    with connection.cursor() as c:
        c.execute("ANALYZE tasks_app_answer")
    timing = {h: {"item": [], "check": []} for h in history_sizes}
    for j in range(len(new[history_sizes[0]])):
        k = j % len(history_sizes)
        for h in history_sizes[k:] + history_sizes[:k]:
            a = new[h][j]
            t0 = time.perf_counter()
            answer_score(answer_id=a.pk)
            timing[h]["check" if a.is_check else "item"].append((time.perf_counter() - t0) * 1000)
    out = []
    for h in history_sizes:
        t = timing[h]
        out.append({"history": h, "item_p50": pct(t["item"], 0.5), "item_p99": pct(t["item"], 0.99),
                    "check_p50": pct(t["check"], 0.5), "check_p99": pct(t["check"], 0.99)})
        log(f"scoring cost with {h} scored answers: {out[-1]}")
    return out


def pick_by_size(projects: dict, users: list, rounds: int = 150) -> dict:
    """Service time of the next-task pick by project size, in this process: ``lease_next`` (regular
    items) on each project in turn, alternating which goes first, so a busy machine slows both
    alike; each lease is then answered (not timed) so the next pick is a fresh one. Plus the pick
    statement's own execution time from EXPLAIN ANALYZE (run in a transaction rolled back)."""
    import random as _random

    from django.db import connection, transaction

    from tasks_app import services as ts
    from tasks_app.services import picking as lease_mod

    times: dict[str, list[float]] = {k: [] for k in projects}
    rng = _random.Random(5)
    keys = list(projects)
    for i in range(rounds):
        order = keys if i % 2 == 0 else keys[::-1]
        u = users[i % len(users)]
        for key in order:
            t0 = time.perf_counter()
            lease = ts.lease_next(project=projects[key], annotator=u, known_check_rate=0.0, rng=rng)
            times[key].append((time.perf_counter() - t0) * 1000)
            if lease is not None:
                ts.answer_submit(annotator=u, lease_id=lease.pk, label=LABELS[0], client_key=uuid.uuid4().hex)
    plans = {}
    for key, project in projects.items():
        lo, hi = lease_mod._id_range(project, False)
        runs = []
        for _ in range(9):  # the median of 9, each from a random pivot
            with transaction.atomic():
                with connection.cursor() as c:
                    sql = lease_mod._take_sql(False)
                    params = {"project": project.pk, "annotator": users[0].pk, "lo": lo, "pivot": rng.randint(lo, hi)}
                    c.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                    plan = c.fetchone()[0]
                    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
                transaction.set_rollback(True)
            runs.append(plan)
        plans[key] = {"exec_ms": pct([p["Execution Time"] for p in runs], 0.5),
                      "plan_ms": pct([p["Planning Time"] for p in runs], 0.5)}
    return {k: {"p50": pct(v, 0.5), "p99": pct(v, 0.99), "n": len(v), **plans[k]} for k, v in times.items()}


# --- where the time goes (in-process) --------------------------------------------------------------

PROFILE_PARTS = [
    # (label, module path, attribute): inclusive wall time of each call, summed per annotation
    ("session load (SESSION_ENGINE)", "SESSION_ENGINE", "SessionStore.load"),
    ("user (auth middleware)", "django.contrib.auth", "get_user"),
    ("membership + project", "workforce.views.task", "_task_membership"),
    ("user + membership + project + profile (one query)", "workforce.views.task", "_session_membership"),
    ("submit service (answer_submit + enqueue)", "workforce.services", "task_submit"),
    ("  of which: Celery publish to Redis", "celery.canvas", "Signature.apply_async"),
    ("next-task service (lease_next)", "workforce.services", "task_next"),
    ("template render", "workforce.views.task", "render"),
    ("JSON: the next task's payload (token, content fragment)", "workforce.views.task", "_task_payload"),
    ("JSON: JsonResponse (serialise)", "workforce.views.task", "JsonResponse"),
]


# what a browser's form post and workbench.js's fetch send (the test client's default, multipart, costs
# ~1 ms more of parsing per request that no real annotator causes)
FORM_TYPE = "application/x-www-form-urlencoded"


def profile_loop(project, users, n: int, protocol: str) -> dict:
    """``n`` annotations through Django's WSGI handler in this process, one at a time (no queueing):
    wall time per annotation split by the parts above (each wrapped with a timer), SQL statements
    and their execute time. Django's test client with CSRF checks on, the same settings as gunicorn,
    posting urlencoded bodies as the browser does. ``LOAD_CPROFILE=cumulative`` (or tottime) also logs
    a cProfile of the loop."""
    import importlib
    from collections import defaultdict

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    acc: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    undo = []
    from django.conf import settings

    for label, mod, attr in PROFILE_PARTS:
        try:  # a part the code does not have (an older checkout) is reported as "–"
            owner = importlib.import_module(settings.SESSION_ENGINE if mod == "SESSION_ENGINE" else mod)
            *path, name = attr.split(".")
            for part in path:
                owner = getattr(owner, part)
            orig = getattr(owner, name)
        except (ImportError, AttributeError):
            continue

        def wrapper(*a, __orig=orig, __label=label, **k):
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return __orig(*a, **k)
            finally:
                acc[__label] += time.perf_counter() - t0
                cpu[__label] += time.thread_time() - c0
                calls[__label] += 1

        setattr(owner, name, wrapper)
        undo.append((owner, name, orig))
    try:
        clients = []
        for u in users:
            c = Client(enforce_csrf_checks=True)
            c.cookies["sessionid"] = session_cookie(u)
            clients.append(c)
        url = f"/projects/{project.pk}/task/"
        json_url = url + "next.json"
        pages: dict = {}
        total = 0.0
        requests = 0
        for c in clients:  # warm: connection, templates, the project's id range; first GETs not counted
            c.get(url)
        connection.ensure_connection()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
        pg0, cpu0 = _proc_cpu(backend), time.thread_time()
        last_start = 0
        prof = None
        if os.environ.get("LOAD_CPROFILE"):  # where the Django CPU goes, function by function (slows the run)
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        with CaptureQueriesContext(connection) as q:
            for i in range(n):
                c = clients[i % len(clients)]
                last_start = len(q.captured_queries)
                t0 = time.perf_counter()
                page = pages.get(i % len(clients))
                if page is None:
                    r = c.get(url)
                    page = r.content.decode()
                    requests += 1
                    if protocol == "json":  # the page's form, then the JSON replies carry the lease values
                        page = {"html": page, "labels": RX_LABEL.findall(page),
                                "form": {k: html.unescape(m.group(1)) for k, m in
                                         ((k, rx.search(page)) for k, rx in RX.items()) if m}}
                        pages[i % len(clients)] = page
                if protocol == "json":
                    data = dict(page["form"], label=truth(page["html"], page["labels"]) or page["labels"][0],
                                visible_ms="1000", pastes="0", blurs="0", then="next")
                    r = c.post(json_url, urllib.parse.urlencode(data), content_type=FORM_TYPE,
                               HTTP_X_CSRFTOKEN=data["csrfmiddlewaretoken"], HTTP_ACCEPT="application/json")
                    requests += 1
                    reply = r.json() if r.status_code == 200 else {}
                    if reply.get("state") == "task":
                        page["form"].update(lease_id=str(reply["lease_id"]), client_key=reply["client_key"], started=reply["started"])
                        page["html"] = reply["content_html"]
                    else:
                        pages[i % len(clients)] = None
                    total += time.perf_counter() - t0
                    continue
                form = {k: rx.search(page) for k, rx in RX.items()}
                if None in form.values():
                    raise RuntimeError(f"no task form ({[k for k, v in form.items() if v is None]}): {page[:1500]}")
                data = {k: html.unescape(m.group(1)) for k, m in form.items()}
                labels = RX_LABEL.findall(page)
                data.update(label=truth(page, labels) or labels[0], visible_ms="1000", pastes="0", blurs="0")
                if protocol == "one":
                    data["then"] = "next"
                r = c.post(url, urllib.parse.urlencode(data), content_type=FORM_TYPE)  # as a browser posts the form
                requests += 1
                pages[i % len(clients)] = r.content.decode() if r.status_code == 200 else None
                total += time.perf_counter() - t0
        django_cpu = time.thread_time() - cpu0
        pg_cpu = _proc_cpu(backend) - pg0
        if prof is not None:
            import io
            import pstats

            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(os.environ["LOAD_CPROFILE"]).print_stats(60)
            log(f"cProfile of protocol {protocol}:\n{out.getvalue()}")
        sql_ms = sum(float(x["time"]) for x in q.captured_queries) * 1000
        n_sql = len(q.captured_queries)
        if os.environ.get("LOAD_SHOW_SQL"):  # the last annotation's statements, to read what the path sends
            for x in q.captured_queries[last_start:]:
                log(f"sql {x['time']}: {x['sql'][:400]}")
            with connection.cursor() as cur:  # which statements are prepared, and did PostgreSQL go generic
                cur.execute("SELECT left(regexp_replace(statement, '\\s+', ' ', 'g'), 80), generic_plans, custom_plans "
                            "FROM pg_prepared_statements")
                for stmt, generic, custom in cur.fetchall():
                    log(f"prepared: generic {generic}, custom {custom}: {stmt}")
    finally:
        for owner, name, orig in undo:
            setattr(owner, name, orig)
    parts = {label: acc[label] * 1000 / n if calls[label] else float("nan") for label, _, _ in PROFILE_PARTS}
    parts_cpu = {label: cpu[label] * 1000 / n if calls[label] else float("nan") for label, _, _ in PROFILE_PARTS}
    accounted = sum(v for k, v in parts_cpu.items() if not k.startswith("  ") and v == v)
    return {"protocol": protocol, "n": n, "requests_per_annotation": requests / n, "total_ms": total * 1000 / n,
            "django_cpu_ms": django_cpu * 1000 / n, "pg_cpu_ms": pg_cpu * 1000 / n,
            "parts": parts, "parts_cpu": parts_cpu, "rest_cpu_ms": django_cpu * 1000 / n - accounted,
            "sql_per_annotation": n_sql / n, "sql_ms": sql_ms / n}


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (the PostgreSQL backend)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


# --- report ----------------------------------------------------------------------------------------

def f(v: float, d: int = 1) -> str:
    return "–" if v != v else f"{v:.{d}f}"


def report(cmd: str, args, runs: list[dict], big: dict | None, scoring: list[dict], cpu: int, profiles: list[dict],
           pick_sizes: dict | None = None) -> str:
    lines = [
        "## Load: annotators on the production stack (`bench/load.py`)",
        "",
        f"`{cmd}` — {cpu} cores, everything on this one machine (the client threads too). Throwaway PostgreSQL + "
        "Redis (`platform/services.sh` on other ports), `manage.py migrate`, real gunicorn "
        "(`platform/gunicorn.conf.py`, sync workers, `DB_CONN_MAX_AGE=60`), one `celery -A cadre worker -c 2`. "
        f"A live project with {args.items:,} items + 50 hidden checks, {args.annotators} annotators already qualified, "
        "each a thread with a session cookie, answering right 95 % of the time (the true label is the item number mod 3, read from the text shown): GET the next-task page, parse `lease_id`/`client_key`/`started`/CSRF "
        "token and the form's own fields, POST the answer. One loop = one annotation. A fresh project per row.",
        "",
        "Protocol **one** = the page's own form (`then=next`): the submit answers with the next task page, so after "
        "the first GET each annotation is one POST, and the POST's latency *is* the next-task latency. Protocol "
        "**two** = the form without `then` (post/redirect/get, what the page did before issue 9): GET + POST per annotation. "
        "Protocol **json** = what the page's script does (workbench.js, i9json): the first GET of the page, then each answer "
        "is POSTed to `task/next.json` (CSRF token in `X-CSRFToken`) and the reply is the next task as JSON; no page is rendered.",
        "",
        "| protocol | annotators × think time | gunicorn workers | items | seconds | annotations/s | GET next task: n, p50 / p95 / p99 ms | POST submit (one: + next task) p50 / p95 / p99 ms "
        "| errors | empty pages | items over-assigned (answers > wanted / + live leases > wanted) | duplicate answers "
        "| unscored at the end | scoring lag p50 / p99 ms | CPU used: this stack / other processes (cores) | stack CPU ms per annotation | load average before / after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        c = r["checks"]
        lines.append(
            f"| {r['protocol']} | {r['annotators']} × {r['think_ms'] / 1000:g} s | {r['workers']} | {r['items']:,} | {r['elapsed']:.0f} | **{r['rate']:.0f}** "
            f"| {r['n_get']}: {f(r['get'][0.5])} / {f(r['get'][0.95])} / {f(r['get'][0.99])} "
            f"| {f(r['post'][0.5])} / {f(r['post'][0.95])} / {f(r['post'][0.99])} "
            f"| {sum(r['errors'].values())} {r['errors'] or ''} | {r['empty']} | {c['over_answers']} / {c['over_leases']} "
            f"| {c['dup']} | {r['unscored_end']} (0 after {r['waited']:.0f} s: {c['unscored'] == 0}) "
            f"| {f(r['lag']['p50'], 0)} / {f(r['lag']['p99'], 0)} "
            f"| {f(r['cpu'].get('ours_cores', float('nan')), 2)} / {f(r['cpu'].get('others_cores', float('nan')), 2)} "
            f"| {f(r['cpu'].get('ours_cores', float('nan')) * r['elapsed'] * 1000 / max(r['loops'], 1), 1)} "
            f"| {r['loadavg'][0]:.1f} / {r['loadavg'][1]:.1f} |"
        )
    kinds = ("gunicorn", "celery", "postgres", "redis", "client")
    if any(r["cpu"].get("by_kind") for r in runs):
        lines += ["", ("Stack CPU per annotation by process (ms; /proc times of each kind of process over the run, divided "
                       "by the annotations; `celery` is the scoring worker, `client` this script's annotator threads):"), "",
                  "| protocol | annotators | " + " | ".join(kinds) + " | total |", "|---|---|" + "---|" * (len(kinds) + 1)]
        for r in runs:
            by = r["cpu"].get("by_kind") or {}
            per = {k: by.get(k, 0.0) * 1000 / max(r["loops"], 1) for k in kinds}
            lines.append(f"| {r['protocol']} | {r['annotators']} | " + " | ".join(f"{per[k]:.1f}" for k in kinds)
                         + f" | **{sum(per.values()):.1f}** |")
    peer = _peer_rate()
    if peer and runs:
        best = max(runs, key=lambda r: r["rate"])
        lines += ["", f"Label Studio at 32 annotators (section above, `bench/labelstudio/results/c32.json`): "
                  f"{peer:.1f} annotations/s. Best row here: {best['rate']:.0f}/s = **{best['rate'] / peer:.1f}×** "
                  "(target ≥ 20×); both measured on this shared machine, so the ratio is the figure to keep."]
    if profiles:
        lines += ["", f"Where the time goes ({profiles[0]['n']} annotations per protocol, 4 annotators taking turns, one "
                  "request at a time through Django's WSGI handler in the benchmark's process: test client with CSRF "
                  "checks on, the same settings, PostgreSQL and Redis as gunicorn; no queueing). CPU is what the busy "
                  "machine cannot blur: the Django thread's CPU time (`time.thread_time`) and the PostgreSQL backend's "
                  "(from /proc). Each part is the inclusive CPU ms of that call per annotation (wall ms in brackets); "
                  "\"rest\" is the Django CPU not in a part (middleware, URL routing, form parsing, CSRF, messages, "
                  "response). The scoring task runs in the Celery worker and is not in these figures.", "",
                  "| per annotation | " + " | ".join(f"protocol {p['protocol']}" for p in profiles) + " |",
                  "|---|" + "---|" * len(profiles)]
        lines.append("| **CPU: Django + PostgreSQL backend, ms** | " + " | ".join(
            f"**{p['django_cpu_ms'] + p['pg_cpu_ms']:.1f}** = {p['django_cpu_ms']:.1f} + {p['pg_cpu_ms']:.1f}" for p in profiles) + " |")
        lines.append("| wall time, ms | " + " | ".join(f"{p['total_ms']:.1f}" for p in profiles) + " |")
        lines.append("| HTTP requests | " + " | ".join(f"{p['requests_per_annotation']:.2f}" for p in profiles) + " |")
        lines.append("| SQL statements (their wall ms) | " + " | ".join(f"{p['sql_per_annotation']:.1f} ({p['sql_ms']:.1f})" for p in profiles) + " |")
        for label, _, _ in PROFILE_PARTS:
            lines.append(f"| {label} | " + " | ".join(f"{p['parts_cpu'][label]:.2f} ({p['parts'][label]:.2f})" for p in profiles) + " |")
        lines.append("| rest (middleware, routing, forms, response) | " + " | ".join(f"{p['rest_cpu_ms']:.2f}" for p in profiles) + " |")
    lines += ["", NOTES]
    size: list[str] = []
    if pick_sizes:
        sm, lg = pick_sizes["small"], pick_sizes["large"]
        size += ["", f"Next-task service time by project size, in-process (`lease_next` on a {args.items:,}-item and a "
                  f"{args.big_items:,}-item project in turn, {sm['n']} picks each, alternating which goes first so "
                  "background load hits both alike; each lease then answered): "
                  f"p50 **{f(sm['p50'], 2)} ms** vs **{f(lg['p50'], 2)} ms** = **{lg['p50'] / sm['p50']:.2f}×** "
                  f"(p99 {f(sm['p99'], 2)} vs {f(lg['p99'], 2)} ms; target ≤ 1.5×). The pick statement itself "
                  f"(EXPLAIN ANALYZE, median of 9): {f(sm['exec_ms'], 3)} ms vs {f(lg['exec_ms'], 3)} ms execution, "
                  f"{f(sm['plan_ms'], 3)} vs {f(lg['plan_ms'], 3)} ms planning."]
    for b in big or []:
        small, large = b["small"], b["large"]
        ratio = large[b["key"]][0.5] / small[b["key"]][0.5]
        size += ["", f"Next-task p50 by project size (protocol {b['protocol']}, {b['workers']} workers, {b['annotators']} annotators, "
                  f"{b['seconds']:.0f} s each in two halves, small-large-large-small, the same annotators on both projects, items loaded "
                  f"with `items_upload` from a generator; the next task is the POST that carries it): {small['items']:,} items **{f(small[b['key']][0.5])} ms** "
                  f"(p99 {f(small[b['key']][0.99])}, {small['rate']:.0f}/s) vs {large['items']:,} items "
                  f"**{f(large[b['key']][0.5])} ms** (p99 {f(large[b['key']][0.99])}, {large['rate']:.0f}/s): "
                  f"**{ratio:.2f}×** (target ≤ 1.5×)."]
    if scoring:
        size += ["", "Scoring cost (`quality.services.answer_score`, in-process, one answer at a time) by the "
                  "annotator's scored history in the project (one annotator per size, 200 regular answers + the "
                  "50 checks each, scored in turn, rotating which size goes first):", "",
                  "| annotator's scored answers | regular answer p50 / p99 ms | hidden check p50 / p99 ms |",
                  "|---|---|---|"]
        for s in scoring:
            size.append(f"| {s['history']:,} | {f(s['item_p50'], 2)} / {f(s['item_p99'], 2)} "
                         f"| {f(s['check_p50'], 2)} / {f(s['check_p99'], 2)} |")
    return "\n".join(lines) + "\n", ("\n".join(
        ["## Load: project size and scoring cost (`bench/load.py --big-items … --score-history …`)", "",
         f"`{cmd}`", ""] + size[1:]) + "\n" if size else "")


def _peer_rate() -> float | None:
    """Label Studio's annotations/s at 32 annotators, as ``bench/labelstudio/run.sh`` last wrote it."""
    try:
        return float(json.loads((ROOT / "bench" / "labelstudio" / "results" / "c32.json").read_text())["annotations_per_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


NOTES = (
    "Notes. (1) With no think time (the main rows) the run is closed-loop: 32 annotators each wait only for "
    "their own previous request, so the stack is CPU-bound and latency is queueing, p50 ≈ annotators / "
    "throughput; a next-task p99 of 100 ms at 32 such annotators therefore needs ≥ ~320 annotations/s, the same "
    "bar as the throughput target. The think-time rows (people reading the item before answering) show latency "
    "at a given offered load instead. (2) Over-assignment is checked in the database after the run: regular items "
    "with more answers than wanted, or answers + live leases above it; duplicates cannot exist (unique "
    "constraint) and are counted anyway. (3) The CPU column sums /proc times of this stack's processes (gunicorn, "
    "Celery worker, PostgreSQL, Redis, this script's client threads) and of everything else on the machine; "
    "\"stack CPU ms per annotation\" is the first over the annotations, the figure that stays comparable "
    "when other work shares the cores. The Celery worker's scoring (`answer_score`, see the scoring-cost table) "
    "is part of it. (4) The size comparison is fair at low concurrency (4 annotators: service time); at 32 it "
    "measures the queue. (5) Known checks: a new membership starts at a check rate of 1.0 until the engine has "
    "scored its first checks, so the first answers of every annotator are mostly checks (as in production)."
)


def start_web(env: dict, log_dir: Path, spec: str) -> Proc:
    """gunicorn for a ``--workers`` entry: "3" (sync workers) or "2x4" (2 workers × 4 threads: gthread)."""
    w, _, t = str(spec).partition("x")
    return gunicorn(env, log_dir, port=PORT, workers=int(w), name=f"gunicorn{spec}",
                    extra_env={"GUNICORN_THREADS": t} if t else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--annotators", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--workers", default="3", help="gunicorn worker counts to measure, comma-separated; 2x4 = 2 workers × 4 threads")
    ap.add_argument("--protocol", default="two,one", help="one (submit answers with the next task page), two (GET + POST), "
                    "json (the page's script: submit + next task as JSON), or several: one,json")
    ap.add_argument("--think", default="", help="also runs with think time: ANNOTATORSxMEAN_MS,... e.g. 200x2000 "
                    "(each annotator waits 0.5-1.5 × the mean before submitting, as a person reading the item)")
    ap.add_argument("--profile", type=int, default=200, help="annotations per protocol for the in-process breakdown (0: none)")
    ap.add_argument("--big-items", type=int, default=0, help="also compare next-task p50 with a project this big")
    ap.add_argument("--big-seconds", type=float, default=20)
    ap.add_argument("--big-annotators", default="4,32", help="annotator counts for the size comparison")
    ap.add_argument("--score-history", default="", help="e.g. 10,10000: time answer_score by history size")
    ap.add_argument("--celery-concurrency", type=int, default=2)
    ap.add_argument("--port", type=int, default=18461, help="gunicorn's port")
    ap.add_argument("--pg-port", type=int, default=55461)
    ap.add_argument("--redis-port", type=int, default=63831)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    global PORT
    PORT = args.port
    workers_arg = args.workers or "''"
    cmd = (f".venv/bin/python bench/load.py --annotators {args.annotators} --seconds {args.seconds:g} --items {args.items}"
           f" --workers {workers_arg} --protocol {args.protocol} --profile {args.profile}"
           + (f" --think {args.think}" if args.think else "") + (f" --big-items {args.big_items} --big-seconds {args.big_seconds:g} --big-annotators {args.big_annotators}" if args.big_items else "")
           + (f" --score-history {args.score_history}" if args.score_history else ""))
    with throwaway_stack("cadre-load-", args.pg_port, args.redis_port, keep=args.keep) as st:
        svc, log_dir = st.svc, st.log_dir
        env = dict(svc.env, DATABASE_URL=svc.urls["DATABASE_URL"], REDIS_URL=svc.urls["REDIS_URL"], PYTHONPATH=str(ROOT),
                   DB_CONN_MAX_AGE="60")
        migrate(env)
        django_setup(env)
        st.procs.append(celery_worker(env, log_dir, concurrency=args.celery_concurrency))
        users = make_annotators(args.annotators)
        meter = CpuMeter(lambda: {os.getpid()} | svc.root_pids())
        protocols = [x.strip() for x in args.protocol.split(",") if x.strip()]
        runs = []
        for w in [x.strip() for x in args.workers.split(",") if x.strip()]:
            web = start_web(env, log_dir, w)
            try:
                for proto in protocols:
                    project = make_project(args.items)
                    join(project, users)
                    r = run_load(project, users, args.seconds, meter, protocol=proto)
                    r.update(workers=w, items=args.items)
                    log(f"{w} workers, protocol {proto}: { {k: v for k, v in r.items() if k != 'raw'} }")
                    runs.append(r)
            finally:
                web.stop()
        if args.think:
            w = max(runs, key=lambda r: r["rate"])["workers"] if runs else "3"
            web = start_web(env, log_dir, w)
            try:
                for spec in args.think.split(","):
                    n, _, mean = spec.partition("x")
                    more = make_annotators(max(0, int(n) - len(users)))
                    users += more
                    project = make_project(args.items)
                    join(project, users[: int(n)])
                    r = run_load(project, users[: int(n)], args.seconds, meter, protocol=protocols[-1], think_ms=float(mean))
                    r.update(workers=w, items=args.items)
                    log(f"think {spec}: { {k: v for k, v in r.items() if k != 'raw'} }")
                    runs.append(r)
            finally:
                web.stop()
        profiles = []
        if args.profile:
            for proto in protocols:
                project = make_project(args.items)
                join(project, users)
                profiles.append(profile_loop(project, users[:4], args.profile, proto))
                log(f"profile {proto}: {profiles[-1]}")
        big = None
        pick_sizes = None
        if args.big_items:
            best_run = max(runs, key=lambda r: r["rate"]) if runs else {"workers": "3", "protocol": protocols[-1]}
            best, proto = best_run["workers"], best_run["protocol"]
            web = start_web(env, log_dir, best)
            big = []
            try:
                from django.db import connection

                projects = {}
                for key, n in (("small", args.items), ("large", args.big_items)):
                    projects[key] = make_project(n)
                    join(projects[key], users)
                with connection.cursor() as c:
                    c.execute("ANALYZE")
                pick_sizes = pick_by_size(projects, users[:8])
                log(f"pick by size (in-process): {pick_sizes}")
                for k in [int(x) for x in args.big_annotators.split(",")]:
                    # small, large, large, small, half the time each: load from outside that changes over
                    # the minute falls on both sizes alike (one run of each, one after the other, did not)
                    raw: dict[str, dict] = {key: {"get": [], "post": [], "loops": 0, "elapsed": 0.0} for key in projects}
                    for key in ("small", "large", "large", "small"):
                        r = run_load(projects[key], users[:k], args.big_seconds / 2, meter, protocol=proto)
                        for side in ("get", "post"):
                            raw[key][side] += r["raw"][side]
                        raw[key]["loops"] += r["loops"]
                        raw[key]["elapsed"] += r["elapsed"]
                    res = {}
                    for key, n in (("small", args.items), ("large", args.big_items)):
                        x = raw[key]
                        res[key] = {"items": n, "rate": x["loops"] / max(x["elapsed"], 1e-9),
                                    **{side: {q: pct(x[side], q) for q in (0.5, 0.95, 0.99)} for side in ("get", "post")}}
                        log(f"{key} ({n} items, {k} annotators): {res[key]}")
                    big.append(dict(res, workers=best, seconds=args.big_seconds, annotators=k, protocol=proto,
                                    key="post" if proto == "one" else "get"))
            finally:
                web.stop()
        scoring = score_cost([int(x) for x in args.score_history.split(",")]) if args.score_history else []
        section, size_section = report(cmd, args, runs, big, scoring, os.cpu_count() or 0, profiles, pick_sizes)
        for text, (start, end) in ((section if runs else "", (START, END)), (size_section, (SIZE_START, SIZE_END))):
            if not text:
                continue
            if args.no_write:
                print(text)
            else:
                write_section(text, Path(args.out), start, end)
                log(f"wrote {args.out} ({start})")
        return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
