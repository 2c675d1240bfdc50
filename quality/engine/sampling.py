"""Audit sample sizes and stratified, prevalence-aware allocation (pure Python, no Django).

``sample_size(margin, confidence, expected_accuracy, population)`` is the calculator the API
exposes: the smallest n whose two-sided Wilson score interval at ``confidence`` around the
expected accuracy has a half-width of at most ``margin``, with the finite-population correction
when the delivery's size is known. Wilson rather than the textbook Wald formula
``z^2 p(1-p) / m^2`` because near p = 1 (where deliveries live) Wald's interval is too narrow
and the n it gives too small; the Wald n is the starting point of the search and is reported
beside it.

``allocate`` splits n across strata (the delivered labels): proportional to their sizes, but
every stratum gets at least ``min_per_stratum`` items (or all of them when fewer), so a rare
class has enough of a sample for its own precision. ``elusion_sizes`` adds, for each rare class
(prevalence below ``rare_below``), a sample of items delivered with *another* label: the share of
those that truly belong to the rare class is the elusion rate, which is what recall of a rare
class depends on (eDiscovery's elusion test).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from scipy.stats import norm as _norm

MAX_SAMPLE = 100_000


def z_two_sided(confidence: float) -> float:
    return float(_norm.ppf(0.5 + confidence / 2.0))


def wilson_half_width(p: float, n: int, confidence: float) -> float:
    """Half the width of the two-sided Wilson interval at ``confidence`` for k = p*n of n."""
    z = z_two_sided(confidence)
    den = 1.0 + z * z / n
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den


@dataclass(frozen=True)
class SampleSize:
    n: int  # what to sample (after the finite-population correction)
    n_infinite: int  # for an unlimited population
    n_wald: int  # the textbook z^2 p(1-p)/m^2, for comparison
    margin: float
    confidence: float
    expected_accuracy: float
    population: int | None
    method: str = "two-sided Wilson score half-width <= margin; finite-population correction n0 / (1 + (n0 - 1) / N)"


def sample_size(*, margin: float, confidence: float, expected_accuracy: float, population: int | None = None) -> SampleSize:
    """Smallest n with Wilson half-width <= margin at the expected accuracy (see module doc)."""
    if not 0 < margin < 0.5:
        raise ValueError("margin must be between 0 and 0.5")
    if not 0.5 < confidence < 1:
        raise ValueError("confidence must be between 0.5 and 1")
    if not 0 < expected_accuracy < 1:
        raise ValueError("expected_accuracy must be between 0 and 1 (exclusive)")
    if population is not None and population < 0:
        raise ValueError("population must be >= 0")
    p = expected_accuracy
    z = z_two_sided(confidence)
    n_wald = max(1, math.ceil(z * z * p * (1 - p) / (margin * margin)))
    # Wilson's half-width decreases in n: binary search between 1 and a bound that satisfies it.
    lo, hi = 1, max(2, n_wald)
    while wilson_half_width(p, hi, confidence) > margin and hi < MAX_SAMPLE:
        hi *= 2
    hi = min(hi, MAX_SAMPLE)
    while lo < hi:
        mid = (lo + hi) // 2
        if wilson_half_width(p, mid, confidence) <= margin:
            hi = mid
        else:
            lo = mid + 1
    n0 = lo
    n = n0
    if population is not None:
        n = min(population, math.ceil(n0 / (1 + (n0 - 1) / population))) if population > 0 else 0
    return SampleSize(n=n, n_infinite=n0, n_wald=n_wald, margin=margin, confidence=confidence,
                      expected_accuracy=expected_accuracy, population=population)


def allocate(n: int, strata: Mapping[str, int], *, min_per_stratum: int = 20) -> dict[str, int]:
    """n split across strata proportionally to their sizes, each stratum at least
    ``min(size, min_per_stratum)``, never more than its size. Largest remainders break ties,
    then stratum name (deterministic)."""
    sizes = {s: int(c) for s, c in strata.items() if c > 0}
    total = sum(sizes.values())
    if total == 0 or n <= 0:
        return {s: 0 for s in strata}
    n = min(n, total)
    out = {s: min(c, min_per_stratum) for s, c in sizes.items()}
    rest = n - sum(out.values())
    if rest > 0:
        room = {s: sizes[s] - out[s] for s in sizes}
        room_total = sum(room.values())
        if room_total > 0:
            shares = {s: rest * sizes[s] / total for s in sizes}
            extra = {s: min(room[s], math.floor(shares[s])) for s in sizes}
            left = rest - sum(extra.values())
            order = sorted(sizes, key=lambda s: (-(shares[s] - math.floor(shares[s])), s))
            while left > 0 and any(extra[s] < room[s] for s in sizes):
                for s in order:
                    if left and extra[s] < room[s]:
                        extra[s] += 1
                        left -= 1
            for s in sizes:
                out[s] += extra[s]
    for s in strata:
        out.setdefault(s, 0)
    return out


def elusion_sizes(
    strata: Mapping[str, int], *, margin: float, confidence: float, rare_below: float = 0.1
) -> dict[str, int]:
    """For each rare class c (share of the delivery below ``rare_below``): how many items delivered
    with other labels to review. Sized like any proportion: expected elusion rate = c's share (a
    conservative guess: if the delivery had missed as many c as it found, the rate would be about
    that), margin = half that share (a rare class needs a relative, not absolute, precision),
    floored at ``margin / 10``; capped by how many such items exist."""
    total = sum(strata.values())
    out: dict[str, int] = {}
    if total <= 0:
        return out
    for c, count in sorted(strata.items()):
        share = count / total
        if share >= rare_below:
            continue
        pool = total - count
        if pool <= 0:
            continue
        expected = min(max(share, 0.001), 0.5)
        m = max(expected / 2.0, margin / 10.0)
        m = min(m, 0.49)
        out[c] = sample_size(margin=m, confidence=confidence, expected_accuracy=expected, population=pool).n
    return out
