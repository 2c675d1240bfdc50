"""Gating error rates by simulation (``quality.engine.sprt``), written to BENCHMARKS.md.

For each bar, 10,000 simulated annotators at bar + delta (good) and 10,000 at bar - delta
(bad) run the SPRT over the design's horizon; a paused annotator comes back from the tutorial
at once with the same accuracy (worst case). Pure Python, no database.

    python bench/gating.py [--n 10000] [--seed 0] [--no-write]
"""
from __future__ import annotations

import argparse

from _django import ROOT  # noqa: E402  (puts the repository root on sys.path)

from quality.engine import sprt  # noqa: E402
from stack import write_section  # noqa: E402

CASES = [(0.75, 2), (0.667, 3), (0.625, 4), (0.8, 2), (0.9, 2), (0.6, 2)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = []
    for bar, k in CASES:
        d = sprt.design_for(bar, k)
        good = sprt.simulate_error_rates(d, d.p0, n=args.n, seed=args.seed)
        bad = sprt.simulate_error_rates(d, d.p1, n=args.n, seed=args.seed + 1)
        rows.append(
            f"| {bar:.3f} ({k} labels) | {d.p0:.3f} / {d.p1:.3f} | {d.horizon} | {good.paused:.4f} | {good.revoked:.4f} "
            f"| {1 - bad.paused:.4f} | {1 - bad.revoked:.4f} | {bad.mean_checks_to_pause:.0f} / {bad.mean_checks_to_revoke:.0f} |"
        )
    body = f"""## Gating error rates (SPRT, simulated)

Command: `python bench/gating.py --n {args.n} --seed {args.seed}`. Per bar, {args.n:,} simulated annotators at
bar + δ and {args.n:,} at bar − δ, over the design's horizon (checks); a paused annotator returns
from the tutorial at once with unchanged accuracy (the worst case). Stated: good paused ≤
{sprt.ALPHA_PAUSE}, good revoked ≤ {sprt.ALPHA_REVOKE}, bad escaping pause / revocation ≤ {sprt.BETA} each
(`tests/quality/test_engine_sprt.py` asserts these).

| bar | good / bad accuracy | horizon | good paused | good revoked | bad never paused | bad never revoked | bad: mean checks to pause / revoke |
|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    print(body)
    if not args.no_write:
        write_section(body, ROOT / "BENCHMARKS.md", "<!-- bench:gating:start -->", "<!-- bench:gating:end -->")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
