"""Load client for Label Studio: N annotators loop "GET next task, POST an annotation".

    python bench/labelstudio/load.py --base http://127.0.0.1:18080 --project 1 \
        --tokens tokens.txt --concurrency 32 --duration 60 --out result.json

Each annotator is a thread with its own `requests.Session` (keep-alive, one connection) and its
own API token (`Authorization: Token ...`, one line per annotator in --tokens). Loop:

    GET  /api/projects/{id}/next          -> a task (200), or 404 when nothing is left
    POST /api/tasks/{task_id}/annotations/ -> 201

Bounded: it stops at --duration seconds (no request is *started* after the deadline; one in
flight finishes or hits --timeout), at --max-annotations in total, or when /next says 404 for
every annotator. Only 127.0.0.1 / localhost base URLs are accepted.

Prints a summary and writes JSON (--out): throughput (annotations/s over the measured wall time),
p50/p95/p99/max per endpoint, status counts, errors, and the task ids handed out by /next to
more than one annotator (a client-side view of double assignment; the DB view is run.sh's).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter

LABELS = ("Positive", "Negative")


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))  # nearest-rank
    return s[k]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter] = defaultdict(Counter)
        self.errors: Counter = Counter()
        self.error_samples: list[str] = []
        self.annotations = 0
        self.served: dict[int, list[int]] = defaultdict(list)  # task id -> annotator indexes
        self.exhausted = 0

    def record(self, ep: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.lat[ep].append(seconds)
            self.status[ep][str(status)] += 1

    def error(self, ep: str, what: str) -> None:
        with self.lock:
            self.errors[f"{ep}: {what[:80]}"] += 1
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{ep}: {what[:300]}")


def annotator(idx: int, base: str, project: int, token: str, deadline: float, budget: list[int],
              budget_lock: threading.Lock, stats: Stats, timeout: float, seed: int) -> None:
    rnd = random.Random(seed * 1000 + idx)
    s = requests.Session()
    s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
    s.headers.update({"Authorization": f"Token {token}", "Content-Type": "application/json",
                      "Accept": "application/json"})
    next_url = f"{base}/api/projects/{project}/next"
    try:
        while time.monotonic() < deadline:
            with budget_lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            t0 = time.monotonic()
            try:
                r = s.get(next_url, timeout=timeout)
                dt = time.monotonic() - t0
                stats.record("next", dt, r.status_code)
            except requests.RequestException as e:
                stats.record("next", time.monotonic() - t0, "exc")
                stats.error("next", repr(e))
                time.sleep(0.2)
                continue
            if r.status_code == 404:
                with stats.lock:
                    stats.exhausted += 1
                return  # nothing left for this annotator
            if r.status_code != 200:
                stats.error("next", f"{r.status_code} {r.text[:200]}")
                time.sleep(0.2)
                continue
            try:
                task_id = int(r.json()["id"])
            except (ValueError, KeyError, TypeError) as e:
                stats.error("next", f"bad body {e!r}: {r.text[:200]}")
                continue
            with stats.lock:
                stats.served[task_id].append(idx)
            if time.monotonic() >= deadline:
                return
            body = {
                "result": [{
                    "from_name": "label", "to_name": "text", "type": "choices",
                    "value": {"choices": [rnd.choice(LABELS)]},
                }],
                "lead_time": round(rnd.uniform(1.0, 5.0), 3),
                "project": project,
            }
            t0 = time.monotonic()
            try:
                r = s.post(f"{base}/api/tasks/{task_id}/annotations/", data=json.dumps(body),
                           timeout=timeout)
                stats.record("annotate", time.monotonic() - t0, r.status_code)
            except requests.RequestException as e:
                stats.record("annotate", time.monotonic() - t0, "exc")
                stats.error("annotate", repr(e))
                continue
            if r.status_code == 201:
                with stats.lock:
                    stats.annotations += 1
            else:
                stats.error("annotate", f"{r.status_code} {r.text[:200]}")
    finally:
        s.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="e.g. http://127.0.0.1:18080 (loopback only)")
    ap.add_argument("--project", type=int, required=True)
    ap.add_argument("--tokens", required=True, help="file, one API token per line (one per annotator)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds (hard bound on starting requests)")
    ap.add_argument("--max-annotations", type=int, default=20000, help="bound on loop iterations in total")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--label", default="", help="name of the run, copied into the JSON")
    ap.add_argument("--out", help="write the JSON summary here")
    a = ap.parse_args(argv)

    host = urlparse(a.base).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("--base must point at 127.0.0.1 / localhost")
    tokens = [t.strip() for t in open(a.tokens) if t.strip()]
    if len(tokens) < a.concurrency:
        ap.error(f"{len(tokens)} tokens for {a.concurrency} annotators")
    base = a.base.rstrip("/")

    stats = Stats()
    budget = [a.max_annotations]
    budget_lock = threading.Lock()
    t_start = time.monotonic()
    deadline = t_start + a.duration
    threads = [threading.Thread(target=annotator, daemon=True, name=f"ann{i}",
                                args=(i, base, a.project, tokens[i], deadline, budget, budget_lock,
                                      stats, a.timeout, a.seed))
               for i in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline + a.timeout + 5 - time.monotonic()))
    wall = time.monotonic() - t_start
    stuck = sum(t.is_alive() for t in threads)

    with stats.lock:
        eps = {}
        for ep in ("next", "annotate"):
            v = stats.lat.get(ep, [])
            eps[ep] = {
                "requests": len(v),
                "status": dict(stats.status.get(ep, {})),
                "p50_ms": None if not v else round(pct(v, 50) * 1000, 1),
                "p95_ms": None if not v else round(pct(v, 95) * 1000, 1),
                "p99_ms": None if not v else round(pct(v, 99) * 1000, 1),
                "max_ms": None if not v else round(max(v) * 1000, 1),
                "mean_ms": None if not v else round(sum(v) / len(v) * 1000, 1),
            }
        multi = {tid: who for tid, who in stats.served.items() if len(who) > 1}
        multi_users = {tid: who for tid, who in multi.items() if len(set(who)) > 1}
        res = {
            "label": a.label,
            "base": base,
            "project": a.project,
            "concurrency": a.concurrency,
            "duration_s": a.duration,
            "wall_s": round(wall, 2),
            "annotations_created": stats.annotations,
            "annotations_per_s": round(stats.annotations / wall, 2) if wall else None,
            "endpoints": eps,
            "errors_total": sum(stats.errors.values()),
            "errors": dict(stats.errors.most_common(20)),
            "error_samples": stats.error_samples,
            "tasks_served": len(stats.served),
            "tasks_served_more_than_once": len(multi),
            "tasks_served_to_more_than_one_annotator": len(multi_users),
            "served_multi_examples": dict(list(multi_users.items())[:10]),
            "annotators_exhausted_404": stats.exhausted,
            "threads_still_running": stuck,
        }

    print(f"[{a.label or 'run'}] {a.concurrency} annotators, {wall:.1f} s: "
          f"{res['annotations_created']} annotations, {res['annotations_per_s']} /s, "
          f"errors {res['errors_total']}, tasks served to >1 annotator "
          f"{res['tasks_served_to_more_than_one_annotator']}")
    for ep, e in eps.items():
        print(f"  {ep:9s} n={e['requests']:6d} p50={e['p50_ms']} p95={e['p95_ms']} p99={e['p99_ms']} "
              f"max={e['max_ms']} ms  status={e['status']}")
    if stats.errors:
        print("  errors:", json.dumps(res["errors"], indent=None)[:1500])
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=2)
    return 0 if stuck == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
