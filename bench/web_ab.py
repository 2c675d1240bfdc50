"""The web process's CPU per annotation, A/B on one throwaway stack (issue 9, ``i9web``).

    .venv/bin/python bench/web_ab.py --variant before=/tmp/base --variant after=. [--rounds 3] [--seconds 20]
    .venv/bin/python bench/web_ab.py --variant plain=. --variant 'nolog=.:--access-logfile ""' ...

Each variant is ``NAME=CHECKOUT[:GUNICORN OPTIONS]``: gunicorn runs with that checkout's code and
``platform/gunicorn.conf.py`` (cwd), plus the options. One stack (PostgreSQL, Redis, a Celery worker,
``bench/load.py``'s data and annotators), then rounds of every variant in turn (A B A B ...) on a fresh
project each, ``--annotators`` zero-think annotators on the JSON loop (``bench/load.py --protocol json``)
for ``--seconds`` each. Alternating in short runs is what makes a pair comparable on a machine that
other work shares: the load that comes and goes falls on both variants alike. Reported per variant:
annotations/s and gunicorn CPU ms per annotation (/proc of the master and its workers), the median
and each run, and the POST p50 / p99. ``--profile-dir DIR``: also a cProfile of every worker
(``bench/gunicorn_profile.conf.py``), ``DIR/<variant>/worker-<pid>.prof`` (slower: read shares only).
The checkouts must share the migrations (the stack is migrated with this one's).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
from stack import ROOT, CpuMeter, celery_worker, django_setup, gunicorn, log, migrate, throwaway_stack  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", required=True, help="NAME=CHECKOUT[:GUNICORN OPTIONS]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--annotators", type=int, default=32)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--port", type=int, default=18471)
    ap.add_argument("--pg-port", type=int, default=55471)
    ap.add_argument("--redis-port", type=int, default=63841)
    ap.add_argument("--profile-dir", default="")
    args = ap.parse_args()
    import shlex

    variants = []
    for v in args.variant:
        name, _, rest = v.partition("=")
        checkout, _, opts = rest.partition(":")
        variants.append((name, Path(checkout).resolve(), shlex.split(opts)))
    load.PORT = args.port
    results: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
    with throwaway_stack("cadre-webab-", args.pg_port, args.redis_port) as st:
        svc, log_dir = st.svc, st.log_dir
        env = dict(svc.env, DATABASE_URL=svc.urls["DATABASE_URL"], REDIS_URL=svc.urls["REDIS_URL"], PYTHONPATH=str(ROOT),
                   DB_CONN_MAX_AGE="60")
        migrate(env)
        django_setup(env)
        st.procs.append(celery_worker(env, log_dir))
        users = load.make_annotators(args.annotators)
        meter = CpuMeter(lambda: {os.getpid()} | svc.root_pids())
        for rnd in range(args.rounds):
            for name, checkout, opts in variants:
                extra = {"GUNICORN_PROFILE_DIR": str(Path(args.profile_dir) / name)} if args.profile_dir else None
                web = gunicorn(env, log_dir, port=args.port, workers=args.workers, name=f"gunicorn-{name}-{rnd}",
                               extra_env=extra, cwd=checkout, args=opts)
                try:
                    project = load.make_project(args.items)
                    load.join(project, users)
                    r = load.run_load(project, users, args.seconds, meter, protocol="json")
                finally:
                    web.stop()
                gcpu = r["cpu"]["by_kind"].get("gunicorn", float("nan")) * 1000 / max(r["loops"], 1)
                total = sum(r["cpu"]["by_kind"].values()) * 1000 / max(r["loops"], 1)
                row = {"rate": r["rate"], "gunicorn_ms": gcpu, "stack_ms": total, "p50": r["post"][0.5], "p99": r["post"][0.99],
                       "errors": sum(r["errors"].values()), "load": r["loadavg"], "others": r["cpu"]["others_cores"],
                       "over": r["checks"]["over_answers"] + r["checks"]["over_leases"]}
                results[name].append(row)
                log(f"round {rnd} {name}: {row}", "webab")
    print("| variant | annotations/s (median; runs) | gunicorn CPU ms per annotation (median; runs) | stack CPU ms | POST p50 / p99 ms (median) | errors | over-assigned | other processes (cores) | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        def med(k):
            return statistics.median(x[k] for x in rows)

        def runs(k, fmt):
            return ", ".join(format(x[k], fmt) for x in rows)

        loads = ", ".join(f"{x['load'][0]:.1f}-{x['load'][1]:.1f}" for x in rows)
        print(f"| {name} | {med('rate'):.0f} ({runs('rate', '.0f')}) | **{med('gunicorn_ms'):.2f}** ({runs('gunicorn_ms', '.2f')}) "
              f"| {med('stack_ms'):.1f} | {med('p50'):.0f} / {med('p99'):.0f} | {sum(x['errors'] for x in rows)} "
              f"| {sum(x['over'] for x in rows)} | {runs('others', '.2f')} | {loads} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
