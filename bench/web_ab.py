"""The web process's CPU per annotation, A/B on one throwaway stack (issue 9, ``i9web``).

    .venv/bin/python bench/web_ab.py --variant before=/tmp/base --variant after=. [--rounds 3] [--seconds 20]
    .venv/bin/python bench/web_ab.py --variant plain=. --variant nolog=.:GUNICORN_ACCESS_LOG=off ...

Each variant is ``NAME=CHECKOUT[:GUNICORN OPTIONS]``: gunicorn runs with that checkout's code and
``platform/gunicorn.conf.py`` (cwd), plus the options; words ``KEY=VALUE`` among the options are that
gunicorn's environment instead (``nolog=.:GUNICORN_ACCESS_LOG=off``). One stack (PostgreSQL, Redis, a Celery worker,
``bench/load.py``'s data and annotators), then rounds of every variant in turn (A B A B ...) on a fresh
project each, ``--annotators`` zero-think annotators on the JSON loop (``bench/load.py --protocol json``)
for ``--seconds`` each. Alternating in short runs is what makes a pair comparable on a machine that
other work shares: the load that comes and goes falls on both variants alike. Reported per variant:
annotations/s and gunicorn CPU ms per annotation (/proc of the master and its workers), the median
and each run, and the POST p50 / p99. ``--profile-dir DIR``: also a cProfile of every worker
(``bench/gunicorn_profile.conf.py``), ``DIR/<variant>/worker-<pid>.prof`` (slower: read shares only).
The checkouts must share the migrations (the stack is migrated with this one's).

``--together``: every variant's gunicorn runs at once (ports ``--port``, ``--port``+1, ...) and each
round splits the annotators between them (the same number each, all starting together), so load
from outside falls on all variants at the same moments: the pairing for a machine other people's
work keeps busy. Each server's CPU is read from /proc (its master and workers) over the round.
``--warm-rounds N``: N rounds first that are not counted (a gthread worker opens a database connection
and prepares the loop's statements per thread: the first round otherwise charges that to it).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402
from stack import ROOT, CpuMeter, celery_worker, django_setup, gunicorn, log, migrate, throwaway_stack  # noqa: E402


_ENV_WORD = re.compile(r"^[A-Z][A-Z0-9_]*=")  # a variant's ``KEY=VALUE`` words: environment of its gunicorn
env_of: dict[str, dict[str, str]] = {}


def _server_env(name: str, profile_dir: str) -> dict | None:
    extra = dict(env_of.get(name, {}))
    if profile_dir:
        extra["GUNICORN_PROFILE_DIR"] = str(Path(profile_dir) / name)
    return extra or None


def _group_ticks(root: int) -> int:
    """CPU clock ticks of a process and its descendants (gunicorn: the master and its workers)."""
    from stack import _descendants, _proc_table

    table = _proc_table()
    return sum(table[p][1] for p in _descendants(table, {root}) if p in table)


def together(args, variants, env, log_dir, users, results) -> None:
    import threading
    import time

    servers = []
    try:
        for i, (name, checkout, opts) in enumerate(variants):
            extra = _server_env(name, args.profile_dir)
            servers.append(gunicorn(env, log_dir, port=args.port + i, workers=args.workers, name=f"gunicorn-{name}",
                                    extra_env=extra, cwd=checkout, args=opts))
        per = len(users) // len(variants)
        tick = os.sysconf("SC_CLK_TCK")
        for rnd in range(-args.warm_rounds, args.rounds):
            runs = []
            for i, (name, _, _) in enumerate(variants):
                # annotators take turns on the variants from round to round: any difference between them cancels out
                mine = [users[(j + rnd * per) % len(users)] for j in range(i * per, (i + 1) * per)]
                project = load.make_project(args.items)
                load.join(project, mine)
                runs.append((name, project, mine))
            from django.db import connection

            connection.close()
            stop_at = time.monotonic() + args.seconds
            lock = threading.Lock()
            started = []
            for i, (name, project, mine) in enumerate(runs):
                st = load.Stats()
                threads = []
                for j, u in enumerate(mine):
                    a = load.Annotator(project.pk, load.session_cookie(u), stop_at, st, lock, seed=rnd * 1000 + j, protocol="json")
                    a.port = args.port + i
                    threads.append(a)
                started.append((name, st, threads))
            cpu0 = [_group_ticks(s.proc.pid) for s in servers]
            load0, t0 = os.getloadavg()[0], time.monotonic()
            for _, _, threads in started:
                for t in threads:
                    t.start()
            for _, _, threads in started:
                for t in threads:
                    t.join(timeout=args.seconds + 60)
            elapsed = time.monotonic() - t0
            cpu1 = [_group_ticks(s.proc.pid) for s in servers]
            for i, (name, st, _) in enumerate(started):
                loops = max(st.loops, 1)
                row = {"rate": st.loops / elapsed, "gunicorn_ms": (cpu1[i] - cpu0[i]) / tick * 1000 / loops, "stack_ms": float("nan"),
                       "p50": load.pct(st.post_ms, 0.5), "p99": load.pct(st.post_ms, 0.99), "errors": sum(st.errors.values()),
                       "load": (load0, os.getloadavg()[0]), "others": float("nan"),
                       "over": sum(v for k, v in load.db_checks(runs[i][1], None).items() if k in ("over_answers", "over_leases"))}
                if rnd >= 0:  # a warm-up round (``--warm-rounds``) is not counted
                    results[name].append(row)
                log(f"together round {rnd} {name}: {row}", "webab")
    finally:
        for s in servers:
            s.stop()


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
    ap.add_argument("--together", action="store_true", help="all variants at once, annotators split between them")
    ap.add_argument("--warm-rounds", type=int, default=0,
                    help="--together: rounds run first and not counted (the workers' first requests: imports, a "
                         "database connection and its prepared statements per thread)")
    args = ap.parse_args()
    import shlex

    variants = []
    for v in args.variant:
        name, _, rest = v.partition("=")
        checkout, _, opts = rest.partition(":")
        words = shlex.split(opts)
        env_of[name] = dict(w.split("=", 1) for w in words if _ENV_WORD.match(w))
        variants.append((name, Path(checkout).resolve(), [w for w in words if not _ENV_WORD.match(w)]))
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
        if args.together:
            together(args, variants, env, log_dir, users, results)
        for rnd in range(0 if args.together else args.rounds):
            for name, checkout, opts in variants:
                extra = _server_env(name, args.profile_dir)
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
