"""Answer → decision latency through a real Celery worker on Redis, at a sustained rate.

Everything on 127.0.0.1 and throwaway (``bench/stack.py``): PostgreSQL + Redis of its own,
``manage.py migrate``, one ``celery -A cadre worker`` (prefork, ``--celery-concurrency``).
Producers (threads, one database connection each) call the real write path,
``tasks_app.services.answer_submit`` with the project, as the task page calls it (the
one-statement submit in autocommit, then the coalesced scoring signal; until issue 9's fifth
round the bench left the project out and took the four-statement transaction the page no
longer uses), open-loop on a fixed schedule of ``--rate`` answers per second for
``--seconds`` (after ``--warmup`` seconds that are not counted). Leases are made beforehand so
the run measures submit + scoring, not the lease query (``bench/load.py`` measures that).
Mix: ``--check-share`` hidden known-answer checks (posterior, SPRT gating, check rate), the
rest regular items (item posterior, accept / ask for more); each answer on its own item.

Latency of an answer = the worker's ``scored_at`` − the moment ``answer_submit`` returned (the
answer committed and enqueued): what a dashboard or webhook waits for. Both clocks are this
machine's. Also reported: submit time, the rate reached, and CPU used by our processes and by
everything else on the machine meanwhile (the machine may be shared).

    python bench/latency.py [--rate 200] [--seconds 30] [--no-write]
    python bench/latency.py --use-running   # DATABASE_URL/REDIS_URL's servers, a throwaway database

``--use-running`` runs against the PostgreSQL and Redis named by ``DATABASE_URL``/``REDIS_URL``
(it creates a throwaway database next to the named one and drops it afterwards; Redis: that
URL's database number) instead of starting its own services.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _django import backend_cpu  # noqa: E402
from stack import (ROOT, CpuMeter, Stack, celery_worker, django_setup, log, migrate, pct,  # noqa: E402
                   throwaway_stack, write_section)

LABELS = ["cat", "dog", "bird"]


def make_world(n_answers: int, check_share: float, n_annotators: int):
    from django.utils import timezone

    from tasks_app import services as ts
    from tasks_app.models import Item, Lease, Organization
    from workforce.models import AnnotatorProfile, Membership
    from django.contrib.auth import get_user_model

    User = get_user_model()
    n_checks = int(n_answers * check_share)
    n_regular = n_answers - n_checks
    n_known = max(10, n_checks // n_annotators + 2)
    org = Organization.objects.create(name=f"latency-{uuid.uuid4().hex[:6]}")
    examples = [ts.ExampleIn(data={"text": f"tutorial {i}"}, label="cat", role="tutorial") for i in range(3)]
    examples += [ts.ExampleIn(data={"text": f"qualifier {i}"}, label="dog", role="qualifier") for i in range(3)]
    examples += [ts.ExampleIn(data={"text": f"known {i}"}, label=LABELS[i % 3], role="known") for i in range(n_known)]
    project = ts.project_create(organization=org, name="latency", instructions="Which animal?", labels=LABELS,
                                accuracy_target=0.9, examples=examples, max_answers=5)
    ts.items_upload(project=project, rows=({"external_id": f"x{i}", "data": {"text": f"item {i}"}} for i in range(n_regular)))
    ts.project_launch(project=project)
    users = []
    for i in range(n_annotators):
        u = User.objects.create_user(f"lat-{uuid.uuid4().hex[:8]}-{i}", password=None)
        AnnotatorProfile.objects.create(user=u, display_name=u.username)
        Membership.objects.create(project=project, annotator=u, stage=Membership.Stage.WORKING, qualifier_correct=3,
                                  qualifier_total=3, tutorial_completed_at="2026-01-01T00:00Z")
        users.append(u)
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id").values_list("id", "external_id"))
    known = list(Item.objects.filter(project=project, is_known=True).order_by("id").values_list("id", "known_label"))
    rng = random.Random(1)
    plan = []  # (annotator, item id, label)
    for i, (item_id, _) in enumerate(regular):
        plan.append((users[i % n_annotators], item_id, LABELS[i % 3] if rng.random() < 0.85 else rng.choice(LABELS)))
    ci = 0
    for k, (item_id, key) in enumerate(known):
        for u in users:
            if ci >= n_checks:
                break
            # mostly right, so few annotators end paused (a paused one would be refused leases,
            # not answers: their leases were made before and are released on the pause)
            plan.append((u, item_id, key if rng.random() < 0.9 else rng.choice(LABELS)))
            ci += 1
    rng.shuffle(plan)
    expires = timezone.now() + timedelta(hours=6)
    leases = Lease.objects.bulk_create(
        [Lease(item_id=item_id, project=project, annotator=u, expires_at=expires) for u, item_id, _ in plan], batch_size=2000
    )
    Item.objects.filter(project=project).update(assigned=1)
    return project, [(u, lease.pk, label) for (u, _, label), lease in zip(plan, leases)]


def produce(plan, rate: float, t0: float, results: dict, errors: list, lock: threading.Lock, idx: list, project=None):
    from django.db import connection

    from tasks_app import services as ts

    try:
        while True:
            with lock:
                i = idx[0]
                idx[0] += 1
            if i >= len(plan):
                return
            due = t0 + i / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            u, lease_id, label = plan[i]
            s0 = time.monotonic()
            try:
                # project=: the web's submit (the task page passes its membership's project), the
                # one-statement path; without it answer_submit takes the four-statement transaction
                a, _ = ts.answer_submit(annotator=u, lease_id=lease_id, label=label, client_key=uuid.uuid4().hex,
                                        duration_ms=5000, project=project)
            except Exception as exc:  # counted, not fatal: a released lease (paused annotator) is refused
                with lock:
                    errors.append(type(exc).__name__)
                continue
            done_wall = time.time()
            results[a.pk] = (i, done_wall, time.monotonic() - s0, time.monotonic() - due)
    finally:
        connection.close()


def run(args) -> dict:
    from django.db import connection

    from tasks_app.models import Answer

    n = int(args.rate * (args.seconds + args.warmup))
    project, plan = make_world(n, args.check_share, args.annotators)
    log(f"project {project.pk}: {len(plan)} leases ready")
    connection.close()
    results: dict = {}
    errors: list = []
    lock = threading.Lock()
    idx = [0]
    t0 = time.monotonic() + 0.5
    threads = [threading.Thread(target=produce, args=(plan, args.rate, t0, results, errors, lock, idx, project))
               for _ in range(args.producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while Answer.objects.filter(project=project, scored_at__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    scored = dict(Answer.objects.filter(project=project, scored_at__isnull=False).values_list("id", "scored_at"))
    warm = int(args.rate * args.warmup)
    lat, submit, behind, timeline = [], [], [], []
    for aid, (i, done_wall, sub, late) in results.items():
        if i < warm or aid not in scored:
            continue
        timeline.append((aid, done_wall, scored[aid].timestamp()))
        lat.append((scored[aid].timestamp() - done_wall) * 1000)
        submit.append(sub * 1000)
        behind.append(late * 1000)
    unscored = sum(1 for aid in results if aid not in scored)
    return {
        "answers": len(results), "measured": len(lat), "errors": len(errors), "unscored": unscored,
        "rate": len(results) / elapsed,
        "p50": pct(lat, 0.50), "p90": pct(lat, 0.90), "p99": pct(lat, 0.99), "max": max(lat) if lat else float("nan"),
        "submit_p50": pct(submit, 0.5), "submit_p99": pct(submit, 0.99), "late_p99": pct(behind, 0.99),
        "timeline": timeline,
    }


PHASES = ("celery", "read", "regular", "checks", "lock", "flag", "final_read", "wait", "gather", "drain other", "no drain")


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def trace_report(path: Path, timeline: list, tail: float = 0.99) -> dict:
    """Attribute the slow answers' wait (``--trace``): the worker's drains wrote one JSON line each
    (``quality.services.drain._Trace``) and every other task one span. For each answer at or above
    the ``tail`` quantile of latency, its wait [submit returned, scored_at] is cut by what the
    worker was doing meanwhile: ``celery`` (a drain published, not started: the broker and the
    worker's dispatch), a drain's ``read`` / ``regular`` / ``checks`` (scoring transactions, without
    their ``lock`` wait) / ``lock`` (the project's advisory lock) / ``flag`` / ``final_read``, ``drain
    other`` (inside a drain, between phases), ``no drain`` (nothing scoring: the answer's flag
    publish not yet received, or between drains). Other tasks that overlapped are listed apart
    (they run in the worker's other process). Also per-drain figures for all drains."""
    drains, tasks = [], []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        (tasks if "task" in d else drains).append(d)
    # exclusive timeline of drain activity: (start, end, phase), lock carved out of its parent
    segs = []
    for d in drains:
        if d.get("sent"):
            segs.append((d["sent"], d["start"], "celery"))
        spans = d["spans"]
        locks = [(a, b) for ph, a, b, _ in spans if ph == "lock"]
        covered = []
        for ph, a, b, _ in spans:
            if ph == "lock":
                continue
            cur = a
            for la, lb in sorted(locks):
                if la >= cur and lb <= b:
                    segs.append((cur, la, ph))
                    segs.append((la, lb, "lock"))
                    cur = lb
            segs.append((cur, b, ph))
            covered.append((a, b))
        cur = d["start"]
        for a, b in sorted(covered):
            if a > cur:
                segs.append((cur, a, "drain other"))
            cur = max(cur, b)
        if d["end"] > cur:
            segs.append((cur, d["end"], "drain other"))
    segs.sort()
    own = {}
    for d in drains:
        for ph, a, b, ids in d["spans"]:
            for aid in ids:
                own[aid] = a
    lat = sorted(((s1 - s0) * 1000, aid, s0, s1) for aid, s0, s1 in timeline)
    if not lat:
        return {}
    cut = lat[min(len(lat) - 1, int(len(lat) * tail))][0]
    slow = [x for x in lat if x[0] >= cut]
    share = dict.fromkeys(PHASES, 0.0)
    others: dict[str, float] = {}
    own_ms = []
    import bisect

    starts = [s[0] for s in segs]
    for ms, aid, t0, t1 in slow:
        busy = 0.0
        i = max(0, bisect.bisect_left(starts, t0) - 50)
        for a, b, ph in segs[i:]:
            if a > t1:
                break
            o = _overlap(t0, t1, a, b)
            if o:
                share[ph] += o * 1000
                busy += o * 1000
        share["no drain"] += max(0.0, ms - busy)
        for t in tasks:
            o = _overlap(t0, t1, t["start"], t["end"])
            if o:
                others[t["task"]] = others.get(t["task"], 0.0) + o * 1000
        if aid in own:
            own_ms.append((t1 - own[aid]) * 1000)
    n = len(slow)
    per_drain = [sum(1 for ph, *_ in d["spans"] if ph in ("read", "final_read")) for d in drains]
    sizes = [d["scored"] for d in drains]
    disp = [(d["start"] - d["sent"]) * 1000 for d in drains if d.get("sent")]
    durs = [(d["end"] - d["start"]) * 1000 for d in drains]
    phase_tot = dict.fromkeys(PHASES, 0.0)
    for a, b, ph in segs:
        phase_tot[ph] += (b - a) * 1000
    task_tot: dict[str, list] = {}
    for t in tasks:
        task_tot.setdefault(t["task"], []).append((t["end"] - t["start"]) * 1000)
    return {
        "cut": cut, "slow": n, "wait": {k: v / n for k, v in share.items()}, "others": {k: v / n for k, v in others.items()},
        "own_p50": pct(own_ms, 0.5), "drains": len(drains), "answers_per_drain": sum(sizes) / max(1, len(drains)),
        "answers_per_drain_p99": pct(sizes, 0.99), "reads_per_drain": sum(per_drain) / max(1, len(drains)),
        "dispatch_p50": pct(disp, 0.5), "dispatch_p99": pct(disp, 0.99), "drain_ms_p50": pct(durs, 0.5),
        "drain_ms_p99": pct(durs, 0.99), "drain_ms_max": max(durs) if durs else 0.0,
        "phase_ms_per_answer": {k: v / max(1, sum(sizes)) for k, v in phase_tot.items() if k != "no drain"},
        "tasks": {k: (len(v), pct(v, 0.5), max(v)) for k, v in task_tot.items()},
    }


def _trace_md(t: dict) -> str:
    if not t:
        return ""
    wait = ", ".join(f"{k} {v:.1f}" for k, v in t["wait"].items() if v >= 0.05)
    others = ", ".join(f"`{k}` {v:.1f}" for k, v in sorted(t["others"].items())) or "none"
    phases = ", ".join(f"{k} {v:.2f}" for k, v in t["phase_ms_per_answer"].items() if v >= 0.005)
    tasks = ", ".join(f"`{k}` ×{n} (p50 {p:.0f} ms, max {m:.0f} ms)" for k, (n, p, m) in sorted(t["tasks"].items())) or "none"
    return f"""
Trace (`--trace`; the drain's spans, `quality.services.drain._Trace`): {t['drains']} drains, {t['answers_per_drain']:.1f}
answers per drain (p99 {t['answers_per_drain_p99']:.0f}), {t['reads_per_drain']:.2f} reads per drain; publish → drain start
p50 {t['dispatch_p50']:.1f} ms, p99 {t['dispatch_p99']:.1f} ms; a drain lasts p50 {t['drain_ms_p50']:.1f} ms, p99
{t['drain_ms_p99']:.1f} ms, max {t['drain_ms_max']:.0f} ms. Worker wall ms per scored answer by phase: {phases}.
Other tasks in the worker: {tasks}.
The {t['slow']} answers at or above p99 ({t['cut']:.1f} ms) waited, on average, ms: {wait}
(their own transaction: p50 {t['own_p50']:.1f} ms from its start to `scored_at`); other tasks running meanwhile (ms of overlap,
average): {others}.
"""


def _admin_sql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(sql)


@contextmanager
def _on_running_servers():
    """``--use-running``: a throwaway database on DATABASE_URL's server (dropped at the end) and
    REDIS_URL's database (its Celery queue emptied first); yields a ``Stack`` without services,
    with ``env`` set."""
    throwaway = f"cadre_latency_{uuid.uuid4().hex[:8]}"
    base = os.environ["DATABASE_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="cadre-latency-"))
    (tmp / "logs").mkdir()
    st = Stack(tmp, tmp / "logs", None)
    _admin_sql(base, f'CREATE DATABASE "{throwaway}"')
    st.env = dict(os.environ, DATABASE_URL=base.rsplit("/", 1)[0] + "/" + throwaway, PYTHONPATH=str(ROOT),
                  DB_CONN_MAX_AGE="60")
    _redis_flush(st.env["REDIS_URL"])
    try:
        yield st
    finally:
        for p in st.procs:
            p.stop()
        from django.db import connections

        connections.close_all()
        _admin_sql(base, f'DROP DATABASE IF EXISTS "{throwaway}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


def _redis_flush(url: str) -> None:
    """Leftover tasks from an earlier run in this Redis database would be scored first."""
    import redis

    redis.Redis.from_url(url).delete("celery")


def backlog_world(n_warm: int, n: int, *, projects: int = 3, annotators: int = 40, overlap: int = 3,
                  check_share: float = 0.2, wrong: float = 0.12):
    """A realistic backlog for the drain (issue 9, fifth round): ``projects`` live projects sharing
    ``annotators`` (members of all), each regular item answered by up to ``overlap`` different
    annotators (so items get accepted, confusion rows and the class prior move), ``check_share``
    hidden checks, a few annotators mostly wrong (gating warns, pauses, revokes). Returns
    (warm-up answers, measured answers) as unsaved ``Answer`` rows in arrival order (an item's
    answers spread over the stream): the warm-up ones are scored first, unmeasured, so quality,
    gating and confusion rows exist as in production."""
    from django.contrib.auth import get_user_model

    from tasks_app import services as ts
    from tasks_app.models import Answer, Item, Organization
    from workforce.models import AnnotatorProfile, Membership

    User = get_user_model()
    rng = random.Random(5)
    total = n_warm + n
    org = Organization.objects.create(name=f"backlog-{uuid.uuid4().hex[:6]}")
    users = []
    for i in range(annotators):
        u = User.objects.create_user(f"bl-{uuid.uuid4().hex[:8]}-{i}", password=None)
        AnnotatorProfile.objects.create(user=u, display_name=u.username)
        users.append(u)
    bad = set(users[:max(1, annotators // 10)])  # mostly wrong: gated on the way
    per_project = total // projects + 1
    stream: list[Answer] = []
    for p in range(projects):
        n_checks = int(per_project * check_share)
        n_known = max(20, n_checks // 4)
        examples = [ts.ExampleIn(data={"text": f"tutorial {i}"}, label="cat", role="tutorial") for i in range(3)]
        examples += [ts.ExampleIn(data={"text": f"qualifier {i}"}, label="dog", role="qualifier") for i in range(3)]
        examples += [ts.ExampleIn(data={"text": f"known {i}"}, label=LABELS[i % 3], role="known") for i in range(n_known)]
        project = ts.project_create(organization=org, name=f"backlog {p}", instructions="Which animal?", labels=LABELS,
                                    accuracy_target=0.9, examples=examples, max_answers=5)
        n_items = (per_project - n_checks) // overlap + 1
        ts.items_upload(project=project, rows=({"external_id": f"x{i}", "data": {"text": f"item {i}"}} for i in range(n_items)))
        ts.project_launch(project=project)
        for u in users:
            Membership.objects.create(project=project, annotator=u, stage=Membership.Stage.WORKING, qualifier_correct=3,
                                      qualifier_total=3, tutorial_completed_at="2026-01-01T00:00Z")
        regular = list(Item.objects.filter(project=project, is_known=False).order_by("id").values_list("id", flat=True))
        known = list(Item.objects.filter(project=project, is_known=True).order_by("id").values_list("id", "known_label"))
        rows = []
        for k, item_id in enumerate(regular):
            truth = LABELS[k % 3]
            for u in rng.sample(users, overlap):
                p_wrong = 0.7 if u in bad else wrong
                rows.append((item_id, u, truth if rng.random() >= p_wrong else rng.choice(LABELS), False))
        seen = set()
        while len([r for r in rows if r[3]]) < n_checks:
            item_id, key = rng.choice(known)
            u = rng.choice(users)
            if (item_id, u.pk) in seen:
                continue
            seen.add((item_id, u.pk))
            p_wrong = 0.7 if u in bad else wrong
            rows.append((item_id, u, key if rng.random() >= p_wrong else rng.choice(LABELS), True))
        for item_id, u, label, is_check in rows[:per_project]:
            stream.append(Answer(item_id=item_id, project=project, annotator=u, label=label, client_key=uuid.uuid4().hex,
                                 is_check=is_check, duration_ms=rng.randint(2000, 20000),
                                 signals={"visible_ms": rng.randint(1000, 20000), "pastes": 0, "blurs": rng.randint(0, 2)}))
    rng.shuffle(stream)
    # an item's answers in arrival order are spread over the stream; keep the first n_warm as history
    return stream[:n_warm], stream[n_warm:total]


def _store(rows) -> None:
    from django.db.models import Count

    from tasks_app.models import Answer, Item

    Answer.objects.bulk_create(rows, batch_size=2000)
    counts = dict(Answer.objects.filter(item_id__in={a.item_id for a in rows}).values("item_id")
                  .annotate(n=Count("id")).values_list("item_id", "n"))
    for item_id, c in counts.items():
        Item.objects.filter(pk=item_id).update(answers_count=c, assigned=c)


def inprocess_backlog(n: int, drain: int, warm: int = 1500, weights: bool = True) -> dict:
    """The drain on a realistic backlog (:func:`backlog_world`): ``warm`` answers stored and
    drained first (not measured), then, with ``weights``, an answer-quality model trained on
    their check outcomes (``answer_model_train``: every later answer is weighed, as in
    production once a model is active), then ``n`` answers stored and drained in chunks of
    ``drain``, measured: CPU of this process and of its PostgreSQL backend, statements."""
    from django.db import connection

    from quality.services import answer_model_train, pending_drain
    from tasks_app.models import Answer

    history, measured = backlog_world(warm, n)
    _store(history)
    pending_drain(chunk=drain, seconds=1e9)
    model = answer_model_train() if weights else None
    if model:
        from quality.services.answer_model import answer_model_cache_clear

        answer_model_cache_clear()  # the worker would see it within CACHE_SECONDS; the bench at once
    _store(measured)
    statements, transactions = [0], [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        transactions[0] += "pg_advisory_xact_lock" in sql
        return execute(sql, params, many, context)

    c0, p0 = time.process_time(), backend_cpu()
    w0 = time.perf_counter()
    with connection.execute_wrapper(count):
        pending_drain(chunk=drain, seconds=1e9)
    wall = (time.perf_counter() - w0) * 1000
    cpu, pg = (time.process_time() - c0) * 1000, (backend_cpu() - p0) * 1000
    assert not Answer.objects.filter(scored_at__isnull=True).exists()
    from quality.models import AnswerQualityModel, GatingDecision

    if model:  # the database may be shared with other runs: leave no model of ours active
        AnswerQualityModel.objects.filter(pk=model.pk).update(active=False)
    return {"n": len(measured), "backlog": 0, "drain": drain, "calls": transactions[0], "wall_p50": wall / len(measured),
            "wall_p99": wall / len(measured), "cpu_mean": cpu / len(measured), "pg_cpu_mean": pg / len(measured),
            "statements": statements[0] / len(measured), "weights": bool(model),
            "accepted": Answer.objects.filter(pk__in=[a.pk for a in measured], item__status="accepted").count(),
            "gated": GatingDecision.objects.filter(answer_id__in=[a.pk for a in measured]).count()}


def inprocess(n: int, backlog: int = 0, drain: int = 0) -> dict:
    """``answer_score`` called directly (no broker, no worker) on ``n`` stored, unscored answers:
    one after another (``backlog`` 0), or as a worker that is behind scores them (each call
    takes the oldest unscored answer and up to ``backlog`` more of the project in one
    transaction), or (``drain`` > 0) as the coalesced drain does (``pending_drain`` in chunks of
    ``drain``: a project's regular answers per transaction, set-based, checks alone). Reports wall
    ms per call, this process's CPU ms and SQL statements per answer. Answers are stored without
    enqueueing (the worker never sees them)."""
    from django.db import connection

    from quality.services import answer_score
    from tasks_app.models import Answer, Item, Lease

    project, plan = make_world(n, 0.2, 50)
    leases = {lz.pk: lz for lz in Lease.objects.filter(pk__in=[lid for _, lid, _ in plan]).select_related("item")}
    rows = [Answer(item=leases[lid].item, project=project, annotator=u, label=label, client_key=uuid.uuid4().hex,
                   is_check=leases[lid].item.is_known, duration_ms=5000) for u, lid, label in plan]
    Answer.objects.bulk_create(rows, batch_size=2000)
    Lease.objects.filter(pk__in=list(leases)).update(state="submitted")
    Item.objects.filter(project=project).update(answers_count=1)
    ids = list(Answer.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    statements = [0]

    transactions = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        transactions[0] += "pg_advisory_xact_lock" in sql  # one per scoring transaction
        return execute(sql, params, many, context)

    wall, calls = [], 0
    c0, p0 = time.process_time(), backend_cpu()
    kw = {"backlog": backlog} if backlog else {}  # (a tree from before issue 9's batches has no backlog)
    with connection.execute_wrapper(count):
        if drain:
            from quality.services import pending_drain

            w0 = time.perf_counter()
            pending_drain(chunk=drain, seconds=1e9)
            calls = transactions[0]
            wall.append((time.perf_counter() - w0) * 1000 / max(1, len(ids)))
            ids = []
        for aid in ids:
            w0 = time.perf_counter()
            if answer_score(answer_id=aid, **kw).scored:
                calls += 1
                wall.append((time.perf_counter() - w0) * 1000)
    cpu, pg = (time.process_time() - c0) * 1000, (backend_cpu() - p0) * 1000
    assert not Answer.objects.filter(project=project, scored_at__isnull=True).exists()
    ids = ids or [None] * len(plan)
    return {"n": len(ids), "backlog": backlog, "drain": drain, "calls": calls, "wall_p50": pct(wall, 0.5), "wall_p99": pct(wall, 0.99),
            "cpu_mean": cpu / len(ids), "pg_cpu_mean": pg / len(ids), "statements": statements[0] / len(ids)}


def _per_answer(r: dict) -> str:
    """CPU ms per submitted answer by kind of process (load-insensitive, unlike the latencies)."""
    by = r.get("by_kind") or {}
    n = max(r["answers"], 1)
    names = {"celery": "Celery worker (scoring)", "postgres": "PostgreSQL", "client": "this script (setup + submits)", "redis": "Redis"}
    return ", ".join(f"{names.get(k, k)} {v * 1000 / n:.1f} ms" for k, v in sorted(by.items()) if v > 0)


def _how(x: dict) -> str:
    if x.get("drain"):
        return f"the coalesced drain: chunks of {x['drain']} (wall = ms per answer)"
    return "one by one" if x["backlog"] == 0 else f"as a backlog: 1 + up to {x['backlog']} per transaction"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--check-share", type=float, default=0.2)
    ap.add_argument("--annotators", type=int, default=100)
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--celery-concurrency", type=int, default=2)
    ap.add_argument("--pg-port", type=int, default=55471)
    ap.add_argument("--redis-port", type=int, default=63841)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--inprocess", type=int, default=500, help="also time answer_score in-process on this many answers")
    ap.add_argument("--use-running", action="store_true", help="use DATABASE_URL/REDIS_URL's servers (throwaway database)")
    ap.add_argument("--trace", action="store_true", help="the worker's drains write their timings; attribute the p99")
    ap.add_argument("--idle-ms", type=float, default=None, help="the worker's CADRE_DRAIN_IDLE_MS (default: settings')")
    ap.add_argument("--gather-ms", type=float, default=None, help="the worker's CADRE_DRAIN_GATHER_MS (default: settings')")
    args = ap.parse_args()
    cmd = (f"python bench/latency.py --rate {args.rate:g} --seconds {args.seconds:g} --warmup {args.warmup:g} "
           f"--check-share {args.check_share:g} --annotators {args.annotators} --producers {args.producers} "
           f"--celery-concurrency {args.celery_concurrency} --inprocess {args.inprocess}"
           + (" --use-running" if args.use_running else "") + (" --trace" if args.trace else "")
           + (f" --idle-ms {args.idle_ms:g}" if args.idle_ms is not None else "")
           + (f" --gather-ms {args.gather_ms:g}" if args.gather_ms is not None else ""))
    with (_on_running_servers() if args.use_running else throwaway_stack("cadre-latency-", args.pg_port, args.redis_port)) as st:
        svc = st.svc
        if svc is not None:
            env = dict(svc.env, DATABASE_URL=svc.urls["DATABASE_URL"], REDIS_URL=svc.urls["REDIS_URL"],
                       PYTHONPATH=str(ROOT), DB_CONN_MAX_AGE="60")
        else:
            env = st.env
        migrate(env)
        trace_file = st.log_dir / "drain-trace.jsonl"
        if args.trace:
            env = dict(env, CADRE_DRAIN_TRACE=str(trace_file))
        if args.idle_ms is not None:
            env = dict(env, CADRE_DRAIN_IDLE_MS=f"{args.idle_ms:g}")
        if args.gather_ms is not None:
            env = dict(env, CADRE_DRAIN_GATHER_MS=f"{args.gather_ms:g}")
        django_setup(env)
        st.procs.append(celery_worker(env, st.log_dir, concurrency=args.celery_concurrency))
        time.sleep(2)
        meter = CpuMeter(lambda: {os.getpid()} | (svc.root_pids() if svc else set()) | {p.proc.pid for p in st.procs})
        load0 = os.getloadavg()[0]
        meter.start()
        r = run(args)
        cpu = meter.stop()
        r.update(cpu, load_before=load0, load_after=os.getloadavg()[0])
        timeline = r.pop("timeline")
        if args.trace and trace_file.exists():
            r["trace"] = trace_report(trace_file, timeline)
        if args.inprocess:
            from django.conf import settings

            r["inprocess"] = [inprocess(args.inprocess, 0), inprocess(args.inprocess, settings.CADRE_SCORING_BATCH),
                              inprocess(args.inprocess, drain=settings.CADRE_SCORING_BATCH)]
        log(f"result: {r}")
    ok = r["p99"] <= 50
    ip = r.get("inprocess")
    rows = "\n".join(
        f"| {_how(x)} | {x['n']} | {x['calls']} | {x['wall_p50']:.1f} / {x['wall_p99']:.1f} "
        f"| {x['statements']:.1f} | **{x['cpu_mean']:.2f}** | {x['pg_cpu_mean']:.2f} |"
        for x in ip or []
    )
    inproc = (f"""
The scoring service alone (`answer_score` called in-process on stored, unscored answers, same
mix; no broker): statements and CPU per answer (this process's, and its PostgreSQL backend's from
/proc) are what the busy machine does not blur.

| how | answers | scoring transactions | wall p50 / p99 per transaction, ms | SQL statements per answer | Python CPU ms per answer | PostgreSQL CPU ms per answer |
|---|---|---|---|---|---|---|
{rows}
""" if ip else "")
    body = f"""## Answer → decision latency (real Celery worker on Redis)

Command: `{cmd}` — {'the shared PostgreSQL and Redis with a throwaway database' if args.use_running else 'throwaway PostgreSQL + Redis'}, one Celery worker (prefork, concurrency
{args.celery_concurrency}); {args.producers} producer threads call `answer_submit` open-loop at {args.rate:g} answers/s
({args.check_share:.0%} hidden checks: posterior + SPRT gating; the rest regular items: item posterior +
acceptance). Latency = worker's `scored_at` − submit returned (answer committed and enqueued);
first {args.warmup:g} s not counted.

| rate asked | rate reached | answers measured | p50 | p90 | p99 | max | submit p50 / p99 | errors | unscored |
|---|---|---|---|---|---|---|---|---|---|
| {args.rate:g}/s | {r['rate']:.0f}/s | {r['measured']} | {r['p50']:.1f} ms | {r['p90']:.1f} ms | **{r['p99']:.1f} ms** | {r['max']:.0f} ms | {r['submit_p50']:.1f} / {r['submit_p99']:.1f} ms | {r['errors']} | {r['unscored']} |

Goal p99 ≤ 50 ms: **{'met' if ok else 'not met'}** on this run. The machine: 2 cores, load average
{r['load_before']:.1f} before and {r['load_after']:.1f} after the run (the run's own processes count in it); other processes used {r.get('others_cores', float('nan')):.2f} cores meanwhile — {'SHARED: other work competed for the cores, so these figures are far from what the code does on a quiet machine' if r.get('others_cores', 0.0) > 0.25 else 'quiet otherwise'}.
CPU of our processes (producers, worker{', our PostgreSQL and Redis' if not args.use_running else ''}): {r['ours_cores']:.2f} cores;
per answer: {_per_answer(r)}. The producers share the
same 2 cores with the worker and the database. Errors: submissions refused because gating
paused their annotator meanwhile (their leases released), as designed.
{_trace_md(r.get("trace") or {})}{inproc}"""
    print(body)
    if not args.no_write:
        write_section(body, ROOT / "BENCHMARKS.md", "<!-- bench:latency:start -->", "<!-- bench:latency:end -->")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
