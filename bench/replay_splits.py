"""Honesty and efficiency over seeded splits, in one process.

    .venv/bin/python bench/replay_splits.py [DATA_DIR] [--sets a,b] [--splits 20]

Same protocol as ``replay_all.py --splits N`` (seed s draws the 10 % known split with
``random.Random(s)`` and the arrival order; ``quality.replay.run_replay`` is what
``manage.py replay_crowd`` calls) without starting one process per run, and with Dawid-Skene over
ALL answers (crowd-kit, ``replay_all.crowdkit_baselines``) measured on each split's held-out items.
One line per data set: over-claims, gap (measured - claimed lower bound) mean and min, mean
accuracy, mean DS accuracy, their difference, mean share of answers used, claimed - measured,
mean workers revoked.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from replay_all import crowdkit_baselines, read_csv

from quality.replay import run_replay


def one_set(folder: Path, splits: int) -> dict:
    answers = read_csv(folder / "answers.csv")
    gold = {r["item"]: r["label"] for r in read_csv(folder / "gold.csv")}
    ds = crowdkit_baselines(answers)[1]
    n_pairs = len({(r["item"], r["worker"]) for r in answers})
    items = sorted(gold)
    runs = []
    for s in range(1, splits + 1):
        known = set(random.Random(s).sample(items, round(0.1 * len(items))))
        delivered, summary = run_replay(answers, [(i, gold[i]) for i in sorted(known)], seed=s)
        label = {r["item"]: r["label"] for r in delivered}
        held = [i for i in items if i not in known and i in label]
        measured = sum(label[i] == gold[i] for i in held) / len(held)
        runs.append({
            "measured": measured,
            "lower": summary["claimed_lower_bound"],
            "claimed": summary["claimed_accuracy"] or 0.0,
            "share": summary["answers_used"] / n_pairs,
            "ds": sum(ds[i] == gold[i] for i in held) / len(held),
            "revoked": summary["workers_revoked"],
        })
    return {"runs": runs}


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "data" / "crowd"))
    ap.add_argument("--sets", default="", help="comma-separated sub-folders (default: all)")
    ap.add_argument("--splits", type=int, default=20)
    args = ap.parse_args()
    data = Path(args.data_dir)
    names = args.sets.split(",") if args.sets else sorted(
        p.name for p in data.iterdir() if (p / "answers.csv").is_file() and (p / "gold.csv").is_file())
    for name in names:
        t0 = time.perf_counter()
        runs = one_set(data / name, args.splits)["runs"]
        print(
            f"{name}: over-claims {sum(r['lower'] > r['measured'] for r in runs)} of {len(runs)}, "
            f"gap mean {mean(r['measured'] - r['lower'] for r in runs):.3f} "
            f"min {min(r['measured'] - r['lower'] for r in runs):+.3f}, "
            f"accuracy {mean(r['measured'] for r in runs):.4f} vs DS {mean(r['ds'] for r in runs):.4f} "
            f"({mean(r['measured'] - r['ds'] for r in runs):+.4f}), answers used {mean(r['share'] for r in runs):.1%}, "
            f"claimed - measured {mean(r['claimed'] - r['measured'] for r in runs):+.3f}, "
            f"revoked {mean(r['revoked'] for r in runs):.1f} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
