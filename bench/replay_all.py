"""Replay the crowd data sets through ``manage.py replay_crowd`` and write the table in BENCHMARKS.md.

    .venv/bin/python bench/replay_all.py [DATA_DIR] [--seed 1] [--target 0.95] [--confidence 0.95]

DATA_DIR defaults to ``../shared/data/crowd`` next to the repository; every sub-folder with
``answers.csv`` and ``gold.csv`` is one data set. For each: a seeded random 10 % of the gold items
becomes K.csv (the known items the platform may use, written to a temp dir); the other 90 % are
held out and only used to measure. In the same run, majority vote and Dawid-Skene (crowd-kit)
aggregate ALL answers and are measured on the same held-out items. The table goes between
``<!-- replay:start -->`` and ``<!-- replay:end -->`` in BENCHMARKS.md (the rest of the file is
kept). The research data itself is never copied into the repository.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- replay:start -->", "<!-- replay:end -->"


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def crowdkit_baselines(answers: list[dict]) -> tuple[dict, dict]:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene, MajorityVote

    seen, rows = set(), []
    for r in answers:
        key = (r["item"], r["worker"])
        if key not in seen:
            seen.add(key)
            rows.append({"task": r["item"], "worker": r["worker"], "label": r["label"]})
    df = pd.DataFrame(rows)
    mv = MajorityVote().fit_predict(df)
    ds = DawidSkene(n_iter=100).fit_predict(df)
    return {str(k): str(v) for k, v in mv.items()}, {str(k): str(v) for k, v in ds.items()}


def variant_sets(argv: list[str]):
    """For the variant scripts (``replay_variants.py``, ``replay_aggregators.py``), whose argv is
    ``SETS SEEDS [DATA]`` (comma lists): the seeds, then per set its name, answers, gold labels,
    sorted gold items and Dawid-Skene over all answers."""
    sets = argv[1].split(",")
    seeds = [int(s) for s in argv[2].split(",")]
    data = Path(argv[3]) if len(argv) > 3 else ROOT.parent / "shared" / "data" / "crowd"

    def each():
        for name in sets:
            answers = read_csv(data / name / "answers.csv")
            gold = {r["item"]: r["label"] for r in read_csv(data / name / "gold.csv")}
            yield name, answers, gold, sorted(gold), crowdkit_baselines(answers)[1]

    return seeds, each()


def accuracy(pred: dict, gold: dict, items) -> float:
    items = [i for i in items if i in pred]
    return sum(pred[i] == gold[i] for i in items) / len(items) if items else float("nan")


def run_one(
    name: str, folder: Path, seed: int, target: float, confidence: float, tmp: Path, baselines: bool = True
) -> dict:
    answers = read_csv(folder / "answers.csv")
    gold = {r["item"]: r["label"] for r in read_csv(folder / "gold.csv")}
    items = sorted(gold)
    known = set(random.Random(seed).sample(items, round(0.1 * len(items))))
    held_out = [i for i in items if i not in known]
    kfile = tmp / f"{name}_{seed}_K.csv"
    with kfile.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item", "label"])
        for i in sorted(known):
            w.writerow([i, gold[i]])
    out = tmp / f"{name}_{seed}_out"
    cmd = [sys.executable, str(ROOT / "manage.py"), "replay_crowd", "--answers", str(folder / "answers.csv"),
           "--known", str(kfile), "--out", str(out), "--target", str(target), "--confidence", str(confidence),
           "--seed", str(seed)]
    print(f"[{name}] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())
    drows = read_csv(out / "delivered.csv")
    delivered = {r["item"]: r["label"] for r in drows}
    reliability = [(float(r["p_correct"]), r["label"] == gold[r["item"]]) for r in drows if r["item"] in gold and r["item"] not in known]
    measured = accuracy(delivered, gold, held_out)
    mv, ds = crowdkit_baselines(answers) if baselines else ({}, {})
    all_items = {r["item"] for r in answers}
    n_pairs = len({(r["item"], r["worker"]) for r in answers})
    lb = summary["claimed_lower_bound"]
    return {
        "name": name,
        "items": len(all_items),
        "held_out": len([i for i in held_out if i in delivered]),
        "measured": measured,
        "answers_used": summary["answers_used"],
        "answers_full": n_pairs,
        "per_item": summary["answers_used"] / summary["items_delivered"],
        "full_per_item": n_pairs / len(all_items),
        "claimed": summary["claimed_accuracy"],
        "lower": lb,
        "over": lb > measured,
        "gap": measured - lb,
        "certified": summary["certified"],
        "revoked": summary["workers_revoked"],
        "workers": summary["workers"],
        "mv": accuracy(mv, gold, held_out),
        "ds": accuracy(ds, gold, held_out),
        "seconds": summary["seconds"],
        "wall": wall,
        "claim_n": summary["claim_n"],
        "reliability": reliability,
        "throughput": summary["answers_used"] / max(summary["seconds"], 1e-9),
    }


def table(rows: list[dict], seed: int, target: float, confidence: float, data_dir: str) -> str:
    head = (
        "| data set | items | measured accuracy (held-out gold) | answers used / full | per delivered item / full per item "
        "| claimed accuracy | claimed lower bound | over-claim? | gap (measured − bound) | certified | workers revoked "
        "| MV accuracy | DS accuracy | seconds |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['name']} | {r['items']} | {r['measured']:.3f} (n={r['held_out']}) | {r['answers_used']:,} / {r['answers_full']:,} "
        f"({r['answers_used'] / r['answers_full']:.0%}) | {r['per_item']:.2f} / {r['full_per_item']:.2f} "
        f"| {r['claimed']:.3f} (n={r['claim_n']}) | {r['lower']:.3f} | {'**YES**' if r['over'] else 'no'} | {r['gap']:+.3f} "
        f"| {'yes' if r['certified'] else 'no'} | {r['revoked']} of {r['workers']} | {r['mv']:.3f} | {r['ds']:.3f} "
        f"| {r['seconds']:.1f} |\n"
        for r in rows
    )
    text = (
        f"Obtained with `.venv/bin/python bench/replay_all.py {data_dir} --seed {seed} --target {target} "
        f"--confidence {confidence}`, which for each data set runs "
        f"`python manage.py replay_crowd --answers answers.csv --known K.csv --out DIR --target {target} "
        f"--confidence {confidence} --seed {seed}` (default cap: 10 answers per item). K.csv is a random 10 % of "
        f"the gold items drawn with `random.Random({seed})`; accuracy is measured on the other 90 % only. "
        f"Answers used include the hidden known-answer checks; 'per delivered item' is all answers used / items "
        f"delivered. Labels: per-class (Dirichlet confusion) annotator model with periodic semi-supervised "
        f"Dawid-Skene re-estimates, evidence temperature fitted on cross-fitted known items; after each re-estimate an "
        f"accepted item (or shadow delivery) whose acceptance the re-estimated model no longer supports goes back to "
        f"work (`engine.reopen_decision`); the delivered label is the final re-estimate's MAP label with its calibrated "
        f"P(correct) (`engine.em.delivered_label`). Gating: the production "
        f"SPRT (`quality/engine/sprt.py` `gate_step`; the replay has no tutorial, so a pause is followed at once by "
        f"the return to work); answers of an annotator credibly below the bar (P ≥ 0.95, ≥ 5 checks) weigh nothing "
        f"while that lasts (`engine.gating.evidence_withheld`). Shadow deliveries take only check answers a regular "
        f"item could have received (`engine.policy.shadow_eligible`). "
        f"The claim is the replay's own: shadow deliveries on the known items (labels from fits blind to them), post-stratified "
        f"by decision status and the items' calibrated P(correct) (cells of ≥ 10 effective shadow outcomes, each "
        f"weighted by the delivery's share of it: `engine.post_stratified_claim`), one-sided Clopper-Pearson on the "
        f"Kish effective sample of those weights at {confidence:.0%} confidence, "
        f"divided by a design effect of 2.5 (shadow outcomes share annotators; the measured variance ratio, see `quality/engine/estimate.py`); certified only if the lower bound ≥ {target}. MV and Dawid-Skene (crowd-kit 1.4.2, "
        f"100 EM iterations) use ALL answers, computed in the same run, measured on the same held-out items. "
        f"Seconds = the replay's own timing (in memory).\n\n"
    )
    return text + head + body


def honesty_table(runs: dict[str, list[dict]], splits: int) -> str:
    text = (
        f"\n\nHonesty over {splits} splits: the same command with `--seed 1` … `--seed {splits}` (each seed draws its "
        f"own 10 % known split and its own arrival order).\n\n"
        "| data set | over-claims (bound > measured) | gap mean | gap min | gap max | measured mean "
        "| claimed − measured mean | answers used / full, mean |\n|---|---|---|---|---|---|---|---|\n"
    )
    for name, rows in runs.items():
        gaps = [r["gap"] for r in rows]
        text += (
            f"| {name} | {sum(r['over'] for r in rows)} of {len(rows)} | {sum(gaps) / len(gaps):.3f} | {min(gaps):+.3f} "
            f"| {max(gaps):.3f} | {sum(r['measured'] for r in rows) / len(rows):.3f} "
            f"| {sum(r['claimed'] - r['measured'] for r in rows) / len(rows):+.3f} "
            f"| {sum(r['answers_used'] / r['answers_full'] for r in rows) / len(rows):.0%} |\n"
        )
    return text


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / den
    return max(0.0, c - h), min(1.0, c + h)


BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001)


def reliability_table(rows: list[dict]) -> str:
    """Per-item p_correct against held-out gold (items the platform never saw a label for)."""
    text = (
        "\n\nCalibration of per-item `p_correct` (reliability on held-out gold items, seed above, all three "
        "sets pooled and each set): observed accuracy with a two-sided 95 % Wilson interval.\n\n"
        "| set | p bin | n | mean p | observed accuracy | 95 % interval |\n|---|---|---|---|---|---|\n"
    )
    groups = [("all", [x for r in rows for x in r["reliability"]])] + [(r["name"], r["reliability"]) for r in rows]
    for name, pts in groups:
        for lo, hi in zip(BINS, BINS[1:]):
            b = [(p, c) for p, c in pts if lo <= p < hi]
            if not b:
                continue
            k = sum(c for _, c in b)
            wl, wh = wilson(k, len(b))
            text += (f"| {name} | [{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'} | {len(b)} | "
                     f"{sum(p for p, _ in b) / len(b):.3f} | {k / len(b):.3f} | {wl:.3f}–{wh:.3f} |\n")
    return text


def throughput_text(rows: list[dict]) -> str:
    big = max(rows, key=lambda r: r["answers_full"])
    return (
        f"\n\nEngine throughput on the largest replay ({big['name']}, in memory, one process, the replay's own "
        f"timing including every periodic re-estimate and the final cross-fitted one): "
        f"{big['answers_used']:,} answers consumed in {big['seconds']:.1f} s = **{big['throughput']:,.0f} answers/s** "
        f"(same command as above; 2-core machine shared with other jobs).\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "data" / "crowd"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--splits", type=int, default=0, help="also run seeds 1..N and tabulate over-claims")
    args = ap.parse_args()
    data = Path(args.data_dir)
    sets = sorted(p for p in data.iterdir() if (p / "answers.csv").is_file() and (p / "gold.csv").is_file())
    if not sets:
        sys.exit(f"no data sets (answers.csv + gold.csv) under {data}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run_one(p.name, p, args.seed, args.target, args.confidence, Path(tmp)) for p in sets]
        runs = {
            p.name: [run_one(p.name, p, s, args.target, args.confidence, Path(tmp), baselines=False)
                     for s in range(1, args.splits + 1)]
            for p in sets
        } if args.splits > 0 else {}
    shown_dir = "../shared/data/crowd" if data.resolve() == (ROOT.parent / "shared" / "data" / "crowd").resolve() else str(data)
    body = table(rows, args.seed, args.target, args.confidence, shown_dir) + reliability_table(rows) + throughput_text(rows)
    if runs:
        body = body.replace("bench/replay_all.py", f"bench/replay_all.py --splits {args.splits}", 1) + honesty_table(runs, args.splits)
    block = f"{START}\n{body}{END}"
    out = Path(args.output)
    old = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n\n## Crowd replay\n\n"
    if START in old and END in old:
        new = old[: old.index(START)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    out.write_text(new, encoding="utf-8")
    print(block)


if __name__ == "__main__":
    main()
