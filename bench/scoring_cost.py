"""CPU and SQL statements per scored answer, in-process, for this tree or another checkout of Cadre
(before/after comparisons on the same database, alternating, so background load hits both alike).

    python bench/scoring_cost.py --tree /tmp/before --tree . --answers 400 --rounds 2 [--drain 32]

Each round runs ``bench/latency.py``'s ``inprocess`` (answers stored unscored, then
``answer_score`` one after another; same mix: 20 % hidden checks) in a fresh process per tree,
importing that tree's apps. Needs ``DATABASE_URL`` (a database migrated by either tree: their
schemas must match) and ``REDIS_URL``. Prints one line per run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = """
import json, os, sys
sys.path.insert(0, {bench!r}); sys.path.insert(0, {tree!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadre.settings")
import django; django.setup()
import latency, quality.services.scoring as s
assert s.__file__.startswith({tree!r}), s.__file__
import quality.services as qs
if {realistic}:
    r = latency.inprocess_backlog({n}, {drain}, warm={warm}, weights={weights})
else:
    r = latency.inprocess({n}, **({{"drain": {drain}}} if {drain} and hasattr(qs, "pending_drain") else {{}}))
r["load"] = os.getloadavg()[0]
print(json.dumps(r))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", action="append", required=True, help="a Cadre checkout (repeat for each)")
    ap.add_argument("--answers", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--drain", type=int, default=0,
                    help="score as the coalesced drain does, in chunks of this size (trees that have it)")
    ap.add_argument("--realistic", action="store_true",
                    help="latency.inprocess_backlog: 3 projects, items answered 3 times (acceptance), 20%% checks with "
                         "mostly-wrong annotators (gating), --warm answers scored first, an answer model active (weights)")
    ap.add_argument("--warm", type=int, default=1500)
    ap.add_argument("--no-weights", action="store_true", help="with --realistic: no answer model (no weights)")
    args = ap.parse_args()
    for _ in range(args.rounds):
        for tree in args.tree:
            tree = str(Path(tree).resolve())
            code = _CHILD.format(bench=str(HERE), tree=tree, n=args.answers, drain=args.drain, realistic=args.realistic, warm=args.warm, weights=not args.no_weights)
            out = subprocess.run([sys.executable, "-c", code], cwd="/", env=os.environ, capture_output=True, text=True, check=False)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = f" weights={r['weights']} accepted={r['accepted']} gating_decisions={r['gated']}" if "weights" in r else ""
            print(f"{tree}: n={r['n']} drain={r.get('drain', 0)}{extra} transactions={r['calls']} statements={r['statements']:.1f} python_cpu_ms={r['cpu_mean']:.2f} "
                  f"pg_cpu_ms={r['pg_cpu_mean']:.2f} wall_p50_ms={r['wall_p50']:.1f} load={r['load']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
