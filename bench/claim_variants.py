"""The replay's claim, and the variants tried against it, on the same replays.

    .venv/bin/python bench/claim_variants.py [DATA_DIR] [--sets a,b] [--splits 20]

For each data set and seed s = 1..splits: the replay protocol of ``bench/replay_splits.py``
(``random.Random(s)`` draws the 10 % known split, ``quality.replay.run_replay`` runs the engine),
recording what the replay passed to ``quality.engine.claim.items_claim`` (the known items'
shadow outcomes with their answerers, each delivered item's status and calibrated P). Then, on
those same inputs, against the measured accuracy of the delivered held-out items (gold):

* ``claim``: ``items_claim`` as the replay and production call it (post-stratified, Kish
  Clopper-Pearson, design effect = max(2.5, measured));
* ``fixed 2.5``: the claim before the measured design effect (answerers withheld);
* ``measured, floor 1``: the measured design effect alone (``answerer_design_effect``);
* ``pigeonhole, floor 1``: the plain pigeonhole bootstrap ratio (Owen 2007: known items and
  annotators resampled together, variance over the item bootstrap's), tried first and rejected:
  it reads about 1 + 2/k with no annotator effect (k answerers per shadow);
* ``deff 1``: outcomes taken as independent;
* ``GREG``: the model-assisted difference estimator — mean calibrated P of the delivered items
  plus the mean residual (outcome − P) of the shadows, one cell or post-stratified like the
  claim, variance = residual variance / n (× design effect) plus the delivery's own Bernoulli
  term, bound = Clopper-Pearson on the effective sample p(1 − p) / variance;
* ``mean P``: the delivered items' mean calibrated P (a model claim with no sample at all).

Prints per set and variant: over-claims (lower bound > measured), gap mean / min, the point
estimate's error (estimate − measured) mean and standard deviation over the splits, and the mean
design effect used. Counts, not timings.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from certificate import CONFIDENCE, TARGET, splits_of

from quality.engine.claim import items_claim
from quality.engine.estimate import clopper_pearson, difficulty_strata, post_stratified_claim


def greg(shadow, mix, *, cells: bool, deff: float) -> tuple[float, float]:
    """(estimate, lower bound) of the difference estimator (see the module docstring)."""
    st = [(s, p) for s, p, *_ in shadow]
    if cells:
        names, _ = difficulty_strata(st, [], design_effect=2.5)
        # a delivered item's cell: run the same cutting with it appended as a delivered row
        _, counts = difficulty_strata(st, mix, design_effect=2.5)
        cell_of = _cells_of(st, mix)
    else:
        names, cell_of = ["all"] * len(shadow), ["all"] * len(mix)
    res: dict[str, list[float]] = {}
    for nm, (_, p, ok, *_) in zip(names, shadow):
        res.setdefault(nm, []).append(float(ok) - p)
    ps: dict[str, list[float]] = {}
    for nm, (_, p) in zip(cell_of, mix):
        ps.setdefault(nm, []).append(p)
    n_del = len(mix)
    est = var = covered = 0.0
    for nm, pp in ps.items():
        r = res.get(nm)
        if not r:
            continue
        w = len(pp) / n_del
        covered += w
        est += w * (float(np.mean(pp)) + float(np.mean(r)))
        var += w * w * (float(np.var(r, ddof=1)) if len(r) > 1 else 0.25) / len(r)
    var = var * deff + float(np.mean([p * (1 - p) for _, p in mix])) / n_del
    th = min(1.0, max(0.0, est / covered))
    n_eff = th * (1 - th) / (var / covered ** 2) if var > 0 else 1e9
    return est, covered * clopper_pearson(th * n_eff, n_eff, CONFIDENCE)[0]


def pigeonhole_ratio(shadow, mix, draws: int = 400, seed: int = 1) -> float:
    """Var(estimate | item x annotator Poisson weights) / Var(estimate | item weights), floor 1."""
    names, counts = difficulty_strata([(s, p) for s, p, *_ in shadow], mix, design_effect=1.0)
    cells = sorted(set(names))
    ci = np.array([cells.index(c) for c in names])
    share = np.array([counts.get(c, 0) for c in cells], dtype=float)
    share /= share.sum()
    y = np.array([float(r[2]) for r in shadow])
    people = sorted({a for r in shadow for a in r[3]})
    pi = {a: j for j, a in enumerate(people)}
    rng = np.random.default_rng(seed)
    wi = rng.poisson(1.0, (draws, len(y))).astype(float)
    wp = rng.poisson(1.0, (draws, len(people))).astype(float)
    wa = np.stack([wp[:, [pi[a] for a in r[3]]].mean(axis=1) for r in shadow], axis=1)

    def var(w):
        pooled = (w @ y) / np.maximum(w.sum(axis=1), 1e-12)
        rates = np.stack([np.where(w[:, ci == j].sum(axis=1) > 0,
                                   (w[:, ci == j] @ y[ci == j]) / np.maximum(w[:, ci == j].sum(axis=1), 1e-12), pooled)
                          for j in range(len(cells))], axis=1)
        return float(np.var(rates @ share))

    return max(1.0, var(wi * wa) / var(wi))


def _cells_of(st, mix):
    out = []
    for row in mix:
        _, counts = difficulty_strata(st, [row], design_effect=2.5)
        out.append(next(iter(counts)))
    return out


def one_set(folder: Path, splits: int) -> dict[str, list[tuple[float, float, float, float]]]:
    out: dict[str, list] = {}
    for split in splits_of(folder, splits):
        shadow, mix, m = split.shadow, split.mix, split.measured
        bare = [(st, p, ok) for st, p, ok, *_ in shadow]
        answerers = [tuple(r[3]) for r in shadow]
        kw = dict(confidence=CONFIDENCE, target=TARGET)
        c = items_claim(shadow, mix, **kw)
        out.setdefault("claim", []).append((m, c.lower, c.accuracy, c.design_effect))
        for name, claim in (
            ("fixed 2.5", post_stratified_claim(bare, mix, **kw)),
            ("measured, floor 1", post_stratified_claim(bare, mix, design_effect=1.0, answerers=answerers, **kw)),
            ("pigeonhole, floor 1", post_stratified_claim(bare, mix, design_effect=pigeonhole_ratio(shadow, mix), **kw)),
            ("deff 1", post_stratified_claim(bare, mix, design_effect=1.0, **kw)),
        ):
            out.setdefault(name, []).append((m, claim.lower, claim.accuracy, claim.design_effect))
        for cells in (False, True):
            for deff in (1.0, 2.5):
                est, lo = greg(shadow, mix, cells=cells, deff=deff)
                out.setdefault(f"GREG {'post-strata' if cells else 'one cell'}, deff {deff:g}", []).append((m, lo, est, deff))
        mp = float(np.mean([p for _, p in mix]))
        out.setdefault("mean P", []).append((m, mp, mp, math.nan))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "data" / "crowd"))
    ap.add_argument("--sets", default="")
    ap.add_argument("--splits", type=int, default=20)
    args = ap.parse_args()
    data = Path(args.data_dir)
    names = args.sets.split(",") if args.sets else sorted(
        p.name for p in data.iterdir() if (p / "answers.csv").is_file() and (p / "gold.csv").is_file())
    print("| data set | claim | over-claims | gap mean | gap min | estimate − measured, mean (sd) | design effect, mean |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        t0 = time.process_time()
        for variant, runs in one_set(data / name, args.splits).items():
            gaps = [m - lo for m, lo, _, _ in runs]
            err = [e - m for m, _, e, _ in runs]
            deffs = [d for *_, d in runs if d is not None and not math.isnan(d)]
            print(f"| {name} | {variant} | {sum(g < 0 for g in gaps)} of {len(runs)} | {np.mean(gaps):.3f} | "
                  f"{min(gaps):+.3f} | {np.mean(err):+.3f} ({np.std(err, ddof=1):.3f}) | "
                  f"{np.mean(deffs):.2f} |" if deffs else
                  f"| {name} | {variant} | {sum(g < 0 for g in gaps)} of {len(runs)} | {np.mean(gaps):.3f} | "
                  f"{min(gaps):+.3f} | {np.mean(err):+.3f} ({np.std(err, ddof=1):.3f}) | – |", flush=True)
        print(f"<!-- {name}: {time.process_time() - t0:.0f} s CPU -->", flush=True)


if __name__ == "__main__":
    main()
