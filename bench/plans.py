"""Planning vs execution time of each statement one annotation sends (issue 9, fourth round).

    DATABASE_URL=postgres://…/scratch .venv/bin/python bench/plans.py [--items 10000] [--warm 300] [--n 200]

Builds ``bench/load.py``'s world in a scratch PostgreSQL database (a project of ``--items`` items,
8 annotators), gives it history (``--warm`` annotations through the task page, protocol one),
then captures every statement of ``--n`` more annotations — the web side and, Celery being eager
here, the scoring drain the submits signal — groups them by shape (literals stripped) and runs
``EXPLAIN (ANALYZE, SUMMARY)`` on the last seen text of each shape five times in a transaction
that is rolled back (a statement whose ANALYZE fails — a duplicate insert — is planned only).
The text is what the client-side-binding cursor sends, so the planning time is what PostgreSQL
spends on it today; ``--prepared`` instead PREPAREs the shape (``$n`` parameters) and reports the
generic plan (``plan_cache_mode = force_generic_plan``) next to the custom one.

    DATABASE_URL=postgres://…/scratch REDIS_URL=redis://…/N .venv/bin/python bench/plans.py --stats [--n 400]

``--stats`` (issue 9, fifth round) instead ranks what the web path's statements cost inside
PostgreSQL, from ``pg_stat_statements`` (the server must load it: ``shared_preload_libraries =
'pg_stat_statements'``, ``pg_stat_statements.track_planning = on``; the shared dev server does not,
a throwaway cluster does): for ``--n`` annotations through the task page (protocol one, Celery
*not* eager, so the scoring drain runs nowhere and only the web path's statements are counted),
each statement's calls, planning and execution ms, buffers dirtied and WAL bytes per annotation,
and the web backend's CPU per annotation from /proc (which also holds what no statement shows:
the protocol, BEGIN/COMMIT, parsing).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import time
from collections import defaultdict

import _django

_NUM = re.compile(r"(?<![\w$\"])-?\d+(\.\d+)?(?![\w\"])")
_STR = re.compile(r"'(?:[^']|'')*'")


def shape(sql: str) -> str:
    return _NUM.sub("?", _STR.sub("?", sql))


def label(sql: str) -> str:
    s = re.sub(r"\s+", " ", sql).strip()
    m = re.match(r'(WITH \w+|SELECT .*? FROM ("?\w+"?)|INSERT INTO ("?\w+"?)|UPDATE ("?\w+"?)|DELETE FROM ("?\w+"?)|\w+)', s)
    return (m.group(0) if m else s)[:60]


def explain(sql: str, analyze: bool = True) -> dict | None:
    from django.db import DatabaseError, connection, transaction

    opts = "ANALYZE, SUMMARY, FORMAT JSON" if analyze else "SUMMARY, FORMAT JSON"
    try:
        with transaction.atomic():
            with connection.cursor() as c:
                c.execute(f"EXPLAIN ({opts}) " + sql.replace("%", "%%"))
                plan = c.fetchone()[0]
            transaction.set_rollback(True)
    except DatabaseError:
        return None
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    return plan


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--warm", type=int, default=300)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--check-rate", type=float, default=0.1, help="--stats: the memberships' hidden-check rate")
    ap.add_argument("--stats", action="store_true", help="rank the web path's statements from pg_stat_statements")
    args = ap.parse_args()
    if args.stats:
        return stats(args)
    _django.setup(scratch_database=True, eager_celery=True)
    import load
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    users = load.make_annotators(8)
    project = load.make_project(args.items)
    load.join(project, users)
    load.profile_loop(project, users[:4], args.warm, "one")
    with connection.cursor() as c:
        c.execute("ANALYZE")
    with CaptureQueriesContext(connection) as q:
        prof = load.profile_loop(project, users[4:], args.n, "one")
    groups: dict[str, list[dict]] = defaultdict(list)
    for x in q.captured_queries:
        if x["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO", "SELECT pg_backend_pid")):
            continue
        groups[shape(x["sql"])].append(x)
    rows = []
    for xs in groups.values():
        sql = xs[-1]["sql"]
        plans = [p for p in (explain(sql) for _ in range(5)) if p]
        analyzed = bool(plans)
        if not plans:
            plans = [p for p in (explain(sql, analyze=False) for _ in range(5)) if p]
        if not plans:
            continue
        plan_ms = statistics.median(p["Planning Time"] for p in plans)
        exec_ms = statistics.median(p["Execution Time"] for p in plans) if analyzed else float("nan")
        rows.append((len(xs) / args.n, label(sql), plan_ms, exec_ms))
    rows.sort(key=lambda r: -r[0] * r[2])
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.items} items, {args.n} annotations "
          f"({prof['sql_per_annotation']:.1f} statements each), pg_cpu_ms {prof['pg_cpu_ms']:.2f} (web backend)")
    print("| statement | per annotation | planning ms | execution ms | planning ms per annotation |")
    print("|---|---|---|---|---|")
    tot_p = tot_e = 0.0
    for per, lab, p, e in rows:
        tot_p += per * p
        tot_e += per * (0 if math.isnan(e) else e)
        print(f"| `{lab}` | {per:.2f} | {p:.3f} | {e:.3f} | {per * p:.3f} |")
    print(f"| total | | | {tot_e:.3f} per annotation | **{tot_p:.3f}** |")
    return 0


def stats(args) -> int:
    _django.setup(scratch_database=True)
    import load
    from django.db import connection

    from workforce.models import Membership

    users = load.make_annotators(8)
    project = load.make_project(args.items)
    load.join(project, users)
    # no scoring runs here, so the engine never lowers a new membership's check rate from 1.0: set
    # a working annotator's usual rate instead, or every other pick would be a hidden check
    Membership.objects.filter(project=project).update(known_check_rate=args.check_rate)
    load.profile_loop(project, users[:4], args.warm, "one")
    with connection.cursor() as c:
        c.execute("ANALYZE")
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        c.execute("SELECT pg_stat_statements_reset()")
    prof = load.profile_loop(project, users[4:], args.n, "one")
    with connection.cursor() as c:
        c.execute(
            "SELECT regexp_replace(query, '\\s+', ' ', 'g'), calls, total_plan_time, total_exec_time, shared_blks_hit, "
            "shared_blks_dirtied, wal_bytes, rows FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) AND query NOT LIKE '%%pg_stat_statements%%' "
            "AND query NOT LIKE '%%pg_backend_pid%%' ORDER BY total_plan_time + total_exec_time DESC")
        rows = c.fetchall()
    n = args.n
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.items} items, {n} annotations "
          f"({prof['sql_per_annotation']:.1f} statements each): web backend CPU {prof['pg_cpu_ms']:.2f} ms per annotation, "
          f"Django {prof['django_cpu_ms']:.2f} ms")
    print("| statement | calls per annotation | plan ms per call | exec ms per call | ms per annotation | "
          "buffers hit / dirtied per call | WAL bytes per call |")
    print("|---|---|---|---|---|---|---|")
    tot = 0.0
    for q, calls, plan, ex, hit, dirtied, wal, _ in rows:
        per = (plan + ex) / n
        tot += per
        print(f"| `{label(q)}` | {calls / n:.2f} | {plan / calls:.3f} | {ex / calls:.3f} | {per:.3f} | "
              f"{hit / calls:.1f} / {dirtied / calls:.2f} | {float(wal) / calls:.0f} |")
    print(f"| total in statements | | | | **{tot:.3f}** | | |")
    if os.environ.get("PLANS_SHOW_SQL"):
        for q, calls, *_ in rows:
            print(f"-- {calls}: {q}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
