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
    ap.add_argument("--pgss", action="store_true", help="load pg_stat_statements and list the top statements")
    ap.add_argument("--port", type=int, default=18481)
    ap.add_argument("--pg-port", type=int, default=55481)
    ap.add_argument("--redis-port", type=int, default=63851)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--json", default="", help="also write the raw runs here")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load.PORT = args.port
    cmd = (f".venv/bin/python bench/pg_cost.py --pairs {args.pairs} --seconds {args.seconds:g} "
           f"--annotators {args.annotators} --items {args.items}" + (" --pgss" if args.pgss else ""))
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
        st.procs.append(celery_worker(env, log_dir))
        users = load.make_annotators(args.annotators)
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
        text = report(cmd, runs, scans)
        if args.json:
            Path(args.json).write_text(json.dumps({"runs": runs, "scans": scans}, indent=1, default=str))
        print(text)
        if not args.no_write:
            write_section(text, Path(args.out), START, END)
            log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
