"""Batch certificates on the crowd replay: is the certificate honest, and what does an audit cost?

    .venv/bin/python bench/certificate.py [DATA_DIR] [--sets a,b] [--splits 20] [--audits 0,50,100]

For each data set and seed s = 1..splits: the replay protocol of ``bench/replay_splits.py``
(``random.Random(s)`` draws the 10 % known split, ``quality.replay.run_replay`` runs the engine).
The replay's delivered items (known items excluded) are one delivery batch. Its certificate is
computed from what the replay passed to the claim function (``quality.engine.claim.items_claim``
is wrapped to record its arguments: the known items' shadow outcomes and each delivered item's
status and calibrated P), plus, for each audit size A, an audit: a random sample of A delivered
items stratified by delivered label (``quality.engine.sampling.allocate``, proportional with a
floor of A / (2 x labels) per label; production's floor of 20 would exceed A = 50 on 4 labels),
the gold label standing in for the expert reviewer (``certificate.audit_estimates``).

Three certificates per (split, A), each against the measured accuracy of the batch (gold):

* ``old``: the certificate before this change: shadow outcomes by decision status only (raw
  counts, ``estimate.stratified_claim``) pooled with the audit when its estimate lies inside the
  audit's two-sided interval, else the audit alone (``certificate.pooled_if_agreeing``). (The old
  certificate's shadows were decided online with the one-coin posterior; here the replay's
  cross-fitted shadows stand in for them, so this isolates the weighting and the rule.)
* ``post+pool``: the post-stratified claim with the old pooling rule;
* ``audit-only``: the audit's own bound when there is an audit (the post-stratified claim
  otherwise): for comparison, the bound a rule trusting the audit alone would report;
* ``new``: the post-stratified claim (``items_claim``) and the audit, both bounds must hold
  (``certificate.certify``), as production computes it.

Prints, per set and A: over-claims (lower bound > measured), mean / min gap (measured - lower),
and how many certified at the 0.95 target. Counts, not timings.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from replay_all import read_csv

from quality import replay
from quality.engine import certificate as cert
from quality.engine import sampling
from quality.engine.claim import items_claim
from quality.engine.estimate import SHADOW_DESIGN_EFFECT, stratified_claim

TARGET = CONFIDENCE = 0.95


def replay_with_sample(answers, known_rows, seed):
    """run_replay, returning also the (shadow, delivered) the replay passed to ``items_claim``."""
    seen = {}

    def recording(shadow, delivered, **kw):
        seen["shadow"], seen["delivered"] = list(shadow), list(delivered)
        return items_claim(shadow, delivered, **kw)

    replay.items_claim = recording
    try:
        delivered, summary = replay.run_replay(answers, known_rows, seed=seed, target=TARGET, confidence=CONFIDENCE)
    finally:
        replay.items_claim = items_claim
    return delivered, summary, seen["shadow"], seen["delivered"]


def audit_of(rows, gold, labels, size, rng):
    """A stratified random audit of ``size`` delivered items, gold as the reviewer."""
    if size <= 0:
        return None
    strata = Counter(r["label"] for r in rows)
    alloc = sampling.allocate(size, strata, min_per_stratum=max(1, size // (2 * len(labels))))
    reviewed = []
    for lab in sorted(strata):
        pool = [r for r in rows if r["label"] == lab]
        for r in rng.sample(pool, min(alloc.get(lab, 0), len(pool))):
            reviewed.append((lab, gold[r["item"]]))
    return cert.audit_estimates(dict(strata), reviewed, labels, CONFIDENCE, draws=4000)


class Split(NamedTuple):
    """One seed's replay, as the certificate benches read it: the delivered rows of items outside
    the known split that have gold, their (stratum, P) claim scores, the shadow sample the replay
    claimed from, and the batch's measured accuracy."""

    seed: int
    gold: dict[str, str]
    labels: list[str]
    rows: list[dict]
    mix: list[tuple]
    shadow: list[tuple]
    measured: float


def splits_of(folder: Path, splits: int) -> Iterator[Split]:
    """Seeds s = 1..splits: ``random.Random(s)`` draws the 10 % known split, the replay runs
    (``replay_with_sample``), and the delivered batch is scored against gold (shared with
    ``bench/claim_variants.py``)."""
    answers = read_csv(folder / "answers.csv")
    gold = {r["item"]: r["label"] for r in read_csv(folder / "gold.csv")}
    labels = sorted({r["label"] for r in answers} | set(gold.values()))
    items = sorted(gold)
    for s in range(1, splits + 1):
        known = set(random.Random(s).sample(items, round(0.1 * len(items))))
        delivered, _, shadow, scores = replay_with_sample(answers, [(i, gold[i]) for i in sorted(known)], s)
        assert len(scores) == len(delivered)
        batch = [(r, sc) for r, sc in zip(delivered, scores) if r["item"] not in known and r["item"] in gold]
        rows = [r for r, _ in batch]
        measured = sum(r["label"] == gold[r["item"]] for r in rows) / len(rows)
        yield Split(s, gold, labels, rows, [sc for _, sc in batch], shadow, measured)


def one_set(folder: Path, splits: int, audits: list[int]) -> dict:
    out = {a: {"old": [], "post+pool": [], "audit-only": [], "new": []} for a in audits}
    for s, gold, labels, rows, mix, shadow, measured in splits_of(folder, splits):
        post = items_claim(shadow, mix, confidence=CONFIDENCE, target=TARGET)
        groups: dict[str, list[bool]] = {}
        for st, _, ok, *_ in shadow:
            groups.setdefault(st, []).append(ok)
        status = stratified_claim(groups, dict(Counter(st for st, _ in mix)), confidence=CONFIDENCE, target=TARGET)
        for a in audits:
            audit = audit_of(rows, gold, labels, a, random.Random(s * 1009 + a))
            old = cert.pooled_if_agreeing(model_correct=status.accuracy * status.n, model_n=status.n,
                                          design_effect=SHADOW_DESIGN_EFFECT, audit=audit, confidence=CONFIDENCE)
            mid = cert.pooled_if_agreeing(model_correct=post.accuracy * post.n, model_n=post.n,
                                          design_effect=SHADOW_DESIGN_EFFECT, audit=audit, confidence=CONFIDENCE)
            new = cert.certify(model=post, audit=audit, target=TARGET, confidence=CONFIDENCE)
            alone = post.lower if audit is None else audit.accuracy.lower
            for name, lower in (("old", old.lower), ("post+pool", mid.lower), ("audit-only", alone), ("new", new.lower)):
                out[a][name].append((measured, lower))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "data" / "crowd"))
    ap.add_argument("--sets", default="")
    ap.add_argument("--splits", type=int, default=20)
    ap.add_argument("--audits", default="0,50,100")
    args = ap.parse_args()
    data = Path(args.data_dir)
    audits = [int(x) for x in args.audits.split(",")]
    names = args.sets.split(",") if args.sets else sorted(
        p.name for p in data.iterdir() if (p / "answers.csv").is_file() and (p / "gold.csv").is_file())
    print("| data set | audit | certificate | over-claims | gap mean | gap min | certified |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        t0 = time.process_time()
        res = one_set(data / name, args.splits, audits)
        for a in audits:
            for kind in ("old", "post+pool", "audit-only", "new"):
                runs = res[a][kind]
                gaps = [m - lo for m, lo in runs]
                print(f"| {name} | {a} | {kind} | {sum(g < 0 for g in gaps)} of {len(runs)} | "
                      f"{sum(gaps) / len(gaps):.3f} | {min(gaps):+.3f} | {sum(lo >= TARGET for _, lo in runs)} |",
                      flush=True)
        print(f"<!-- {name}: {time.process_time() - t0:.0f} s CPU -->", flush=True)


if __name__ == "__main__":
    main()
