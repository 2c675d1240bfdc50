"""Who will do well: held-out AUC and calibration of the ranking model (workforce/services/ranking.py)
on the replay crowd data (real workers, real gold labels), written to BENCHMARKS.md.

    /work/main/.venv/bin/python bench/ranking.py [--seeds 5]

Protocol, per data set (``../shared/data/crowd/<name>``, answers + gold): items are split at
random into two halves. Half A is the workers' *history*: their accuracy on its gold items is
what the product calls check accuracy (n checks, n correct), their activity is their number of
answers in A; no qualifier scores or tenure exist in this data (the product's prior values are
used). Half B is the *new project*: each of a worker's answers in B is a check, correct or not.
Workers are split at random in two: the model (the product's own ``features()`` and ``fit()``)
is trained on one half's B answers and scored on the other half's: AUC of predicting whether an
answer is correct, a calibration table (predicted probability deciles vs observed accuracy with
Wilson 95 % intervals), and the same AUC for the smoothed history accuracy alone (baseline).
Repeated over ``--seeds`` random splits; figures are means (min–max over seeds). Workers with
no answer in A are the newcomers: they get the prior, reported separately.
"""
from __future__ import annotations

import argparse
import csv
import math
import random
from collections import defaultdict
from pathlib import Path

from _django import ROOT, setup  # noqa: E402

setup()
from sklearn.metrics import roc_auc_score  # noqa: E402

from workforce.services.ranking import features, fit  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "crowd"
if not DATA.exists():
    DATA = Path("/work/shared/data/crowd")
SETS = ["zhang_rte", "d_sentiment", "zhang_dog"]
START, END = "<!-- bench:ranking:start -->", "<!-- bench:ranking:end -->"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def load(name: str):
    with open(DATA / name / "gold.csv") as f:
        gold = {r["item"]: r["label"] for r in csv.DictReader(f)}
    with open(DATA / name / "answers.csv") as f:
        answers = [(r["item"], r["worker"], r["label"]) for r in csv.DictReader(f) if r["item"] in gold]
    return gold, answers


def run(name: str, seed: int):
    gold, answers = load(name)
    rng = random.Random(seed)
    items = sorted(gold)
    rng.shuffle(items)
    half_a = set(items[: len(items) // 2])
    hist = defaultdict(lambda: [0, 0])
    for item, worker, label in answers:
        if item in half_a:
            hist[worker][0] += 1
            hist[worker][1] += label == gold[item]
    workers = sorted({w for _, w, _ in answers})
    rng.shuffle(workers)
    train_w = set(workers[: len(workers) // 2])
    X = {"train": [], "test": []}
    y = {"train": [], "test": []}
    base, newcomer = [], []
    for item, worker, label in answers:
        if item in half_a:
            continue
        n, k = hist.get(worker, (0, 0))
        x = features(checks=n, correct=k, checks_same_type=n, correct_same_type=k, qualifier_score=None,
                     tenure_days=0.0, answers_30d=n)
        part = "train" if worker in train_w else "test"
        X[part].append(x)
        y[part].append(int(label == gold[item]))
        if part == "test":
            base.append(x[0])
            newcomer.append(n == 0)
    model = fit(X["train"], y["train"])
    pred = [float(p) for p in model.predict_proba(X["test"])[:, 1]]
    return {
        "auc": roc_auc_score(y["test"], pred), "auc_base": roc_auc_score(y["test"], base),
        "pred": pred, "y": y["test"], "n_test": len(y["test"]), "n_train": len(y["train"]),
        "workers": len(workers), "newcomers": sum(newcomer),
    }


def calibration(pred: list[float], y: list[int], bins: int = 10) -> list[tuple]:
    rows = sorted(zip(pred, y))
    out = []
    for b in range(bins):
        chunk = rows[b * len(rows) // bins: (b + 1) * len(rows) // bins]
        if not chunk:
            continue
        n, k = len(chunk), sum(t for _, t in chunk)
        lo, hi = wilson(k, n)
        out.append((chunk[0][0], chunk[-1][0], sum(p for p, _ in chunk) / n, n, k / n, lo, hi))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    lines = [START, "## Who will do well: ranking model on the replay crowd data (`bench/ranking.py`)", "",
             f"Command: `/work/main/.venv/bin/python bench/ranking.py --seeds {args.seeds}`. Real workers and gold labels "
             "(`../shared/data/crowd`, evaluation only); protocol in the script's docstring: history = accuracy on a random "
             "half of the items, target = each answer on the other half, model trained on half the workers and scored on "
             "the others (held-out workers, held-out items).", "",
             "| data set | workers | test answers (n) | of them by workers with no history | AUC model | AUC history accuracy alone |",
             "|---|---|---|---|---|---|"]
    pooled_pred, pooled_y = [], []
    for name in SETS:
        res = [run(name, seed) for seed in range(args.seeds)]
        aucs, bases = [r["auc"] for r in res], [r["auc_base"] for r in res]
        pooled_pred += res[0]["pred"]
        pooled_y += res[0]["y"]
        lines.append(f"| {name} | {res[0]['workers']} | {res[0]['n_test']:,} | {res[0]['newcomers']:,} | {sum(aucs) / len(aucs):.3f} "
                     f"({min(aucs):.3f}–{max(aucs):.3f}) | {sum(bases) / len(bases):.3f} ({min(bases):.3f}–{max(bases):.3f}) |")
        print(name, f"auc={sum(aucs) / len(aucs):.3f}", f"base={sum(bases) / len(bases):.3f}", flush=True)
    lines += ["", "Calibration (seed 0, the three data sets' held-out answers pooled; each model trained on its own data "
              "set): predicted probability that an answer is correct, by decile, against the observed accuracy with its "
              "Wilson 95 % interval.", "",
              "| decile | predicted range | mean predicted | n | observed accuracy | 95 % interval |", "|---|---|---|---|---|---|"]
    for i, (lo_p, hi_p, mean_p, n, acc, lo, hi) in enumerate(calibration(pooled_pred, pooled_y), start=1):
        lines.append(f"| {i} | {lo_p:.3f}–{hi_p:.3f} | {mean_p:.3f} | {n:,} | {acc:.3f} | {lo:.3f}–{hi:.3f} |")
    lines += ["", "Notes. The AUC measures how well the model orders *answers* by their chance of being right from the "
              "worker's history elsewhere; the product ranks *annotators* by the same probability. The model adds little "
              "over smoothed history accuracy here because this data has no qualifier scores, tenure or task types "
              "(those features are constant). Answers by workers with no answer in half A are scored with the "
              "no-history features (the newcomer prior); tests/workforce checks that a newcomer ranks above a poor record "
              "and below a good one. Deciles 1-2 are over-confident (predicted ~0.47, observed 0.38-0.54): the weakest "
              "workers are poorly separated.", END]
    text = "\n".join(lines)
    print(text)
    if args.no_write:
        return
    path = ROOT / "BENCHMARKS.md"
    body = path.read_text() if path.exists() else ""
    if START in body and END in body:
        body = body[: body.index(START)] + text + body[body.index(END) + len(END):]
    else:
        body = body.rstrip() + "\n\n" + text + "\n"
    path.write_text(body)


if __name__ == "__main__":
    main()
