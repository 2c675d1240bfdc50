"""PostgreSQL's cost per annotation, schema before/after, on one throwaway stack (issue 9, i9fk).

    .venv/bin/python bench/pg_cost.py [--pairs 3] [--seconds 40] [--annotators 32] [--items 10000]
                                      [--before tasks_app:0013_answer_annotator_newest] [--pgss] [--no-write]

The load is ``bench/load.py``'s protocol ``json`` (32 annotator threads, no think time, gunicorn with
3 sync workers, one Celery worker scoring). Each run migrates the schema first: *before* = ``manage.py
migrate <--before>`` (the plain item_id / project_id foreign keys), *after* = ``migrate`` (latest:
the composite (item_id, project_id) key, migration 0014). The variants alternate in ABBA order over
``--pairs`` pairs on the same PostgreSQL, Redis and processes, so load from the rest of the machine
falls on both alike; a fresh project per run.

Per run, divided by the annotations of the run: CPU ms of the stack and of PostgreSQL's processes
(/proc, ``CpuMeter``), and the deltas of PostgreSQL's own counters: ``pg_stat_database``
(commits, rollbacks), ``pg_stat_wal`` (WAL records, bytes, full-page images), ``pg_stat_user_tables``
(rows inserted / updated / HOT-updated per table), MultiXact IDs created (``next_multixact_id`` of
``pg_control_checkpoint()``, read after a CHECKPOINT) and ``pg_stat_slru`` for the MultiXact SLRUs.
After the last run: ``pg_stat_user_indexes.idx_scan`` of the hot tables' indexes over all runs
(an index nothing scans but every write maintains is a candidate to drop). ``--pgss`` also loads
``pg_stat_statements`` (restarting the throwaway server) and lists the top statements by total
time; it costs CPU itself, so leave it off for the before/after figures.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import load
from stack import PY, ROOT, CpuMeter, celery_worker, django_setup, log, migrate, throwaway_stack, write_section

START, END = "<!-- pg-cost:start -->", "<!-- pg-cost:end -->"
TABLES = ("tasks_app_item", "tasks_app_lease", "tasks_app_answer", "tasks_app_project", "workforce_membership",
          "auth_user")


def _rows(sql: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(sql, params or [])
        return c.fetchall() if c.description else []


def snapshot() -> dict:
    """PostgreSQL's cumulative counters now (after a CHECKPOINT, so next_multixact_id is current)."""
    from django.db import connection

    _rows("CHECKPOINT")
    _rows("SELECT pg_stat_clear_snapshot()")
    db = dict(zip(("commit", "rollback", "blks_hit", "blks_read", "tup_inserted", "tup_updated"), _rows(
        "SELECT xact_commit, xact_rollback, blks_hit, blks_read, tup_inserted, tup_updated FROM pg_stat_database "
        "WHERE datname = current_database()")[0]))
    wal = dict(zip(("wal_records", "wal_fpi", "wal_bytes"),
                   (float(x) for x in _rows("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")[0])))
    tables = {r[0]: {"ins": r[1], "upd": r[2], "hot": r[3]} for r in _rows(
        "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = ANY(%s)",
        [list(TABLES)])}
    slru = {r[0]: {"zeroed": r[1], "hit": r[2], "read": r[3], "written": r[4]} for r in _rows(
        "SELECT name, blks_zeroed, blks_hit, blks_read, blks_written FROM pg_stat_slru WHERE name LIKE 'MultiXact%%'")}
    mxid = int(_rows("SELECT next_multixact_id::text::bigint FROM pg_control_checkpoint()")[0][0])
    connection.close()
    return {"db": db, "wal": wal, "tables": tables, "slru": slru, "mxid": mxid}


def delta(a: dict, b: dict, n: int) -> dict:
    """Per annotation: b - a over n."""
    per = lambda x, y: (y - x) / max(n, 1)  # noqa: E731
    return {
        "db": {k: per(a["db"][k], b["db"][k]) for k in a["db"]},
        "wal": {k: per(a["wal"][k], b["wal"][k]) for k in a["wal"]},
        "tables": {t: {k: per(a["tables"].get(t, {}).get(k, 0), v) for k, v in b["tables"][t].items()}
                   for t in b["tables"]},
        "slru": {s: {k: per(a["slru"][s][k], v) for k, v in b["slru"][s].items()} for s in b["slru"]},
        "mxid": per(a["mxid"], b["mxid"]),
    }


def schema(env: dict, variant: str, before: str) -> None:
    from django.db import connections

    connections.close_all()
    target = before.split(":") if variant == "before" else []
    subprocess.run([PY, "manage.py", "migrate", *target, "-v", "0"], cwd=ROOT, env=env, check=True)
    fks = _rows("SELECT conrelid::regclass::text || ': ' || pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid::regclass::text IN ('tasks_app_answer', 'tasks_app_lease') ORDER BY 1")
    log(f"schema {variant}: " + "; ".join(r[0] for r in fks))


def one_run(env, log_dir, users, args, variant: str, meter: CpuMeter) -> dict:
    schema(env, variant, args.before)
    project = load.make_project(args.items)
    load.join(project, users)
    web = load.start_web(env, log_dir, "3")
    try:
        time.sleep(1)
        s0 = snapshot()
        r = load.run_load(project, users, args.seconds, meter, protocol="json")
    finally:
        web.stop()
    time.sleep(11)  # idle backends (the Celery worker's) flush their statistics within 10 s
    s1 = snapshot()
    n = r["loops"]
    by = r["cpu"].get("by_kind") or {}
    out = {
        "variant": variant, "loops": n, "rate": r["rate"], "elapsed": r["elapsed"], "loadavg": r["loadavg"],
        "errors": sum(r["errors"].values()), "over": (r["checks"]["over_answers"], r["checks"]["over_leases"]),
        "stack_ms": r["cpu"].get("ours_cores", float("nan")) * r["elapsed"] * 1000 / max(n, 1),
        "others_cores": r["cpu"].get("others_cores", float("nan")),
        "by_kind_ms": {k: v * 1000 / max(n, 1) for k, v in by.items()},
        "per": delta(s0, s1, n), "post_p50": r["post"][0.5], "post_p99": r["post"][0.99],
    }
    log(f"{variant}: {n} annotations, {out['rate']:.0f}/s, stack {out['stack_ms']:.2f} ms, "
        f"postgres {out['by_kind_ms'].get('postgres', float('nan')):.2f} ms, mxid/annotation {out['per']['mxid']:.2f}")
    return out


def direct_slice(project, users, seconds: float) -> dict:
    """The two statements of an annotation alone, no web stack and no scoring: one thread per
    annotator, each with its own connection, looping ``lease_next`` + ``answer_submit`` (the services
    the task page calls: one statement each). Returns the annotations and the CPU seconds of these
    connections' PostgreSQL backends (/proc), so the figure is PostgreSQL's own work per annotation."""
    import random
    import threading

    from django.db import connection, connections

    from tasks_app import services as ts

    done, cpu, lock = [0], [0.0], threading.Lock()
    stop_at = time.monotonic() + seconds
    barrier = threading.Barrier(len(users) + 1)

    def work(i, user):
        rng = random.Random(i)
        try:
            with connection.cursor() as c:
                c.execute("SELECT pg_backend_pid()")
                pid = c.fetchone()[0]
            barrier.wait()
            t0, n = load._proc_cpu(pid), 0
            while time.monotonic() < stop_at:
                lease = ts.lease_next(project=project, annotator=user, known_check_rate=0.0, rng=rng)
                if lease is None:
                    break
                ts.answer_submit(annotator=user, lease_id=lease.pk, label="cat", client_key=f"d{lease.pk}",
                                 project=project)
                n += 1
            with lock:
                cpu[0] += load._proc_cpu(pid) - t0
                done[0] += n
        finally:
            connections.close_all()

    waits: dict[str, int] = {}
    samples = [0]

    def sample():
        """What the slice's backends are doing, every 20 ms (pg_stat_activity): running, or waiting on what."""
        from django.db import connection as conn

        try:
            while time.monotonic() < stop_at:
                with conn.cursor() as c:
                    c.execute("SELECT coalesce(wait_event_type || ':' || wait_event, 'running') FROM pg_stat_activity "
                              "WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                              "AND query NOT LIKE 'CHECKPOINT%%'")
                    for (w,) in c.fetchall():
                        waits[w] = waits.get(w, 0) + 1
                samples[0] += 1
                time.sleep(0.02)
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(i, u)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    barrier.wait()
    load0 = os.getloadavg()[0]
    sampler = threading.Thread(target=sample)
    sampler.start()
    for t in threads + [sampler]:
        t.join()
    per = {k: v / max(samples[0], 1) for k, v in sorted(waits.items(), key=lambda kv: -kv[1])}
    return {"loops": done[0], "pg_cpu_s": cpu[0], "loadavg": load0, "waits": per}


def direct(env, users, args) -> list[dict]:
    """``--direct``: ABBA slices of ``direct_slice``, a fresh project each, the schema migrated per slice."""
    out = []
    order = []
    for i in range(args.direct_pairs):
        order += ["before", "after"] if i % 2 == 0 else ["after", "before"]
    for v in order:
        schema(env, v, args.before)
        project = load.make_project(args.items)
        s0 = snapshot()
        r = direct_slice(project, users, args.direct)
        s1 = snapshot()
        r.update(variant=v, pg_ms=r["pg_cpu_s"] * 1000 / max(r["loops"], 1), per=delta(s0, s1, r["loops"]))
        log(f"direct {v}: {r['loops']} annotations, PostgreSQL backends {r['pg_ms']:.3f} ms CPU per annotation, "
            f"mxid/annotation {r['per']['mxid']:.3f}, WAL records {r['per']['wal']['wal_records']:.1f}, load {r['loadavg']:.1f}, "
            f"backends: {r['waits']}")
        out.append(r)
    return out


def direct_report(cmd: str, rows: list[dict]) -> str:
    lines = ["", f"The annotation's two statements alone (`{cmd}`): one thread per annotator, each its own "
             "connection, looping `lease_next` + `answer_submit` (the task page's one-statement next task and "
             "submit) in this process, no web stack and no scoring; PostgreSQL CPU = /proc time of exactly "
             "these backends over the slice, divided by its annotations (the noise of a shared machine "
             "falls on the client, not on this figure). Slices in ABBA order, a fresh project each.", "",
             "| per annotation | before | after |", "|---|---|---|"]
    def cells(key, d):
        res = []
        for v in ("before", "after"):
            vals = [key(r) for r in rows if r["variant"] == v]
            res.append(f"**{mean(vals):.{d}f}** ({', '.join(f'{x:.{d}f}' for x in vals)})")
        return res
    for label, key, d in (
        ("PostgreSQL backend CPU, ms", lambda r: r["pg_ms"], 3),
        ("annotations in the slice", lambda r: r["loops"], 0),
        ("MultiXact IDs created", lambda r: r["per"]["mxid"], 3),
        ("WAL records", lambda r: r["per"]["wal"]["wal_records"], 1),
        ("WAL bytes", lambda r: r["per"]["wal"]["wal_bytes"], 0),
        ("commits", lambda r: r["per"]["db"]["commit"], 2),
    ):
        b, a = cells(key, d)
        lines.append(f"| {label} | {b} | {a} |")
    kinds = sorted({k for r in rows for k in r.get("waits", {})},
                   key=lambda k: -sum(r.get("waits", {}).get(k, 0) for r in rows))[:8]
    lines += ["", "Backends of the slice by what they were doing (`pg_stat_activity` every 20 ms: mean number of "
              "the slice's backends running or waiting on each event; the rest were idle, i.e. in the client):", "",
              "| state / wait event | before | after |", "|---|---|---|"]
    for k in kinds:
        b, a = (mean([r.get("waits", {}).get(k, 0.0) for r in rows if r["variant"] == v]) for v in ("before", "after"))
        lines.append(f"| {k} | {b:.2f} | {a:.2f} |")
    la = [r["loadavg"] for r in rows]
    lines += ["", f"Load average at the start of the slices {min(la):.1f}–{max(la):.1f}; "
              f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC at the end."]
    return "\n".join(lines) + "\n"


def index_scans() -> list[tuple]:
    return _rows("SELECT relname, indexrelname, idx_scan FROM pg_stat_user_indexes WHERE relname = ANY(%s) "
                 "ORDER BY relname, idx_scan", [list(TABLES[:3])])


def pgss_top(limit: int = 15) -> list[tuple]:
    return _rows("SELECT calls, round(total_exec_time::numeric, 1), round(total_plan_time::numeric, 1), "
                 "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements "
                 "ORDER BY total_exec_time + total_plan_time DESC LIMIT %s", [limit])


def mean(xs):
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")


def report(cmd: str, runs: list[dict], scans: list[tuple]) -> str:
    def col(v, key):
        return [key(r) for r in runs if r["variant"] == v]

    rows = [
        ("annotations/s", lambda r: r["rate"], 0),
        ("stack CPU ms per annotation", lambda r: r["stack_ms"], 2),
        ("PostgreSQL CPU ms per annotation", lambda r: r["by_kind_ms"].get("postgres", float("nan")), 2),
        ("gunicorn CPU ms per annotation", lambda r: r["by_kind_ms"].get("gunicorn", float("nan")), 2),
        ("celery CPU ms per annotation", lambda r: r["by_kind_ms"].get("celery", float("nan")), 2),
        ("commits per annotation", lambda r: r["per"]["db"]["commit"], 2),
        ("rollbacks per annotation", lambda r: r["per"]["db"]["rollback"], 3),
        ("MultiXact IDs created per annotation", lambda r: r["per"]["mxid"], 3),
        ("MultiXact SLRU pages zeroed / 1000 annotations",
         lambda r: 1000 * sum(s["zeroed"] for s in r["per"]["slru"].values()), 2),
        ("WAL records per annotation", lambda r: r["per"]["wal"]["wal_records"], 1),
        ("WAL bytes per annotation", lambda r: r["per"]["wal"]["wal_bytes"], 0),
        ("full-page images per annotation", lambda r: r["per"]["wal"]["wal_fpi"], 2),
    ]
    for t in ("tasks_app_item", "tasks_app_lease", "tasks_app_answer", "workforce_membership"):
        rows.append((f"{t}: updates (of them HOT) per annotation",
                     lambda r, t=t: (r["per"]["tables"].get(t, {}).get("upd", float("nan")),
                                     r["per"]["tables"].get(t, {}).get("hot", float("nan"))), 2))
    lines = ["## PostgreSQL's cost per annotation: foreign keys before/after (`bench/pg_cost.py`)", "",
             f"`{cmd}` — each run: `manage.py migrate` to the variant, a fresh 10,000-item project, the load of "
             "`bench/load.py` protocol json (32 annotators, no think time, 3 gunicorn workers, one Celery worker), then "
             "PostgreSQL's counters. Variants in ABBA order on the same throwaway stack. *before* = migration 0013 "
             "(plain `item_id` and `project_id` foreign keys on answer and lease); *after* = 0014 (one composite "
             "`(item_id, project_id) → item(id, project_id)` key each, whose target is a new unique index on item "
             "`(project_id, id)`). Means over the runs (each run in brackets).", "",
             "| per annotation | before | after |", "|---|---|---|"]
    for label, key, d in rows:
        cells = []
        for v in ("before", "after"):
            vals = col(v, key)
            if vals and isinstance(vals[0], tuple):
                cells.append(f"{mean([x[0] for x in vals]):.{d}f} ({mean([x[1] for x in vals]):.{d}f})")
            else:
                cells.append(f"**{mean(vals):.{d}f}** ({', '.join(f'{x:.{d}f}' for x in vals)})")
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    la = [r["loadavg"][0] for r in runs]
    lines += ["", f"Runs: {len(runs)}, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC at the end; load average "
              f"at the start of each run {min(la):.1f}–{max(la):.1f}; other processes' CPU during the runs "
              f"{min(r['others_cores'] for r in runs):.2f}–{max(r['others_cores'] for r in runs):.2f} cores; errors "
              f"{sum(r['errors'] for r in runs)}; items over-assigned {sum(sum(r['over']) for r in runs)}."]
    if scans:
        unused = [f"`{i}` ({t})" for t, i, n in scans if n == 0]
        lines += ["", "Indexes of item / lease / answer that no statement scanned over all the runs "
                  f"(`pg_stat_user_indexes.idx_scan` = 0): {', '.join(unused) or 'none'}."]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--annotators", type=int, default=32)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--before", default="tasks_app:0013_answer_annotator_newest")
    ap.add_argument("--direct", type=float, default=0, help="also (or with --pairs 0: only) slices of this many "
                    "seconds of the two statements alone, in this process (see direct_slice)")
    ap.add_argument("--direct-pairs", type=int, default=3)
    ap.add_argument("--pgss", action="store_true", help="load pg_stat_statements and list the top statements")
    ap.add_argument("--port", type=int, default=18481)
    ap.add_argument("--pg-port", type=int, default=55481)
    ap.add_argument("--redis-port", type=int, default=63851)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--json", default="", help="also write the raw runs here")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load.PORT = args.port
    cmd = (f".venv/bin/python bench/pg_cost.py --pairs {args.pairs} "
           + (f"--seconds {args.seconds:g} " if args.pairs else "") + f"--annotators {args.annotators} --items {args.items}" + (" --pgss" if args.pgss else "")
           + (f" --direct {args.direct:g} --direct-pairs {args.direct_pairs}" if args.direct else ""))
    with throwaway_stack("cadre-pgcost-", args.pg_port, args.redis_port) as st:
        svc, log_dir = st.svc, st.log_dir
        env = dict(svc.env, DATABASE_URL=svc.urls["DATABASE_URL"], REDIS_URL=svc.urls["REDIS_URL"], PYTHONPATH=str(ROOT),
                   DB_CONN_MAX_AGE="60")
        if args.pgss:
            subprocess.run(["psql", svc.urls["DATABASE_URL"], "-c", "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"], check=True)
            svc.stop()
            svc.start()
        migrate(env)
        django_setup(env)
        if args.pgss:
            _rows("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        users = load.make_annotators(args.annotators)
        direct_rows = direct(env, users, args) if args.direct else []
        if args.pairs:  # (its backlog: the direct slices' answers, never scored, are left alone without one)
            st.procs.append(celery_worker(env, log_dir))
        meter = CpuMeter(lambda: {os.getpid()} | svc.root_pids())
        order = []
        for i in range(args.pairs):
            order += ["before", "after"] if i % 2 == 0 else ["after", "before"]
        runs = [one_run(env, log_dir, users, args, v, meter) for v in order]
        scans = index_scans()
        for s in scans:
            log(f"idx_scan {s}")
        if args.pgss:
            for r in pgss_top():
                log(f"pgss {r}")
        schema(env, "after", args.before)
        text = (report(cmd, runs, scans) if runs else "") + (direct_report(cmd, direct_rows) if direct_rows else "")
        if args.json:
            Path(args.json).write_text(json.dumps({"runs": runs, "scans": scans, "direct": direct_rows}, indent=1,
                                                  default=str))
        print(text)
        if not args.no_write:
            write_section(text, Path(args.out), START, END)
            log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
