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
"""
from __future__ import annotations

import argparse
import json
import math
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
    args = ap.parse_args()
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


if __name__ == "__main__":
    sys.exit(main())
