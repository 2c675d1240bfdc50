"""Quality for subjective tasks (ratings, "most similar"): no right answer, so an annotator is
judged by (1) **self-consistency** — the same item shown again later gets the same answer —
and (2) **agreement with peers** — their answer against the other annotators' on the same
items. Pure; ``quality.services.subjective`` wires it into scoring and gating (issue 6).

Both are compared with what chance gives, because raw agreement means little on its own: on a
5-point scale where everyone answers 4, agreeing is easy. Chance agreement uses the
annotator's own answer distribution (self) or the peers' (peers), as in Cohen's kappa. Every
figure carries its n and a 95 % Wilson interval, and ``credibly_above_chance`` uses the
interval's lower bound (never the point estimate).

Ordinal ratings also get a tolerance: ``tolerance=1`` counts a 4 against a 5 as agreeing
(and chance agreement is computed with the same tolerance).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

from .sprt import wilson_interval


@dataclass(frozen=True)
class Agreement:
    n: int
    agree: float  # fractional when ties among peers are split
    rate: float | None
    lower: float
    upper: float
    chance: float
    kappa: float | None
    credibly_above_chance: bool


def _agrees(a, b, tolerance: float) -> bool:
    if tolerance and isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= tolerance
    return a == b


def _chance(dist_a: Counter, dist_b: Counter, tolerance: float) -> float:
    na, nb = sum(dist_a.values()), sum(dist_b.values())
    if not na or not nb:
        return 0.0
    return sum((ca / na) * (cb / nb) for a, ca in dist_a.items() for b, cb in dist_b.items() if _agrees(a, b, tolerance))


def _result(agree: float, n: int, chance: float) -> Agreement:
    lo, hi = wilson_interval(agree, n)
    rate = agree / n if n else None
    kappa = (rate - chance) / (1 - chance) if n and chance < 1 else None
    return Agreement(n, agree, rate, lo, hi, chance, kappa, bool(n and lo > chance))


def self_consistency(pairs: Sequence[tuple[Hashable, Hashable]], *, tolerance: float = 0) -> Agreement:
    """``pairs``: (first answer, repeat answer) for each item the annotator saw twice."""
    agree = sum(1 for a, b in pairs if _agrees(a, b, tolerance))
    dist = Counter([a for a, _ in pairs] + [b for _, b in pairs])
    return _result(agree, len(pairs), _chance(dist, dist, tolerance))


def peer_agreement(mine: Mapping[Hashable, Hashable], peers: Mapping[Hashable, Sequence[Hashable]], *,
                   tolerance: float = 0) -> Agreement:
    """Agreement of one annotator's answers (item -> answer) with the peers' plurality answer
    on the same items (item -> other annotators' answers; items without peers are skipped;
    a tie in the peers' plurality is split: agreeing with one of k tied answers counts 1/k, as
    if the tie were broken at random — counting it as a full agreement inflated a random
    rater's agreement well above chance in a test)."""
    agree = 0.0
    n = 0
    peer_dist: Counter = Counter()
    my_dist: Counter = Counter()
    for item, answer in mine.items():
        others = list(peers.get(item) or [])
        if not others:
            continue
        counts = Counter(others)
        top = max(counts.values())
        modes = [a for a, c in counts.items() if c == top]
        n += 1
        agree += sum(1 for m in modes if _agrees(answer, m, tolerance)) / len(modes)
        for m in modes:
            peer_dist[m] += 1 / len(modes)
        my_dist[answer] += 1
    return _result(agree, n, _chance(my_dist, peer_dist, tolerance))


# --- gating on self-consistency (quality.services.subjective) ------------------------------------

# The least agreement beyond chance a rater must show: kappa 0.25, "fair" (Landis & Koch). Not
# higher: people re-rating the same photo on a 1-5 scale agree exactly only about half the time
# (chance ~0.2, so kappa ~0.4), and a bar there would pause honest raters; a random or constant
# rater has kappa 0 and is caught anyway. A customer who wants more sets consistency_target.
KAPPA_MIN = 0.25
MAX_BAR = 0.9  # above this, agreeing says too little (chance itself is near 1)


def agrees(a, b, tolerance: float = 0) -> bool:
    return _agrees(a, b, tolerance)


def chance_self(dist: Mapping[Hashable, float], tolerance: float = 0) -> float:
    """Chance that two independent draws from one annotator's own answer distribution agree
    (within ``tolerance``): what a rater who ignores the item scores on repeats."""
    c = Counter({k: v for k, v in dist.items() if v > 0})
    return _chance(c, c, tolerance)


@dataclass(frozen=True)
class ConsistencyBar:
    bar: float  # the consistency a rater must credibly reach (the SPRT's bar for this step)
    chance: float
    informative: bool  # False: chance is so high that an agreement proves nothing (counts as a miss)


def consistency_bar(chance: float, target: float | None = None) -> ConsistencyBar:
    """The bar for the next repeat: consistency at least ``KAPPA_MIN`` of the way from chance to
    perfect (``chance + KAPPA_MIN * (1 - chance)``), and at least the project's
    ``consistency_target`` when it sets one; at most ``MAX_BAR``. When the chance-based bar
    would pass ``MAX_BAR`` (a rater who gives nearly the same answer to everything: chance
    above ~0.87) no agreement can show consistency beyond chance: the repeat is *uninformative* and
    counts against them — a constant rater is caught like a random one."""
    need = chance + KAPPA_MIN * (1 - chance)
    if target is not None:
        need = max(need, target)
    return ConsistencyBar(min(need, MAX_BAR), chance, need <= MAX_BAR)


def _peer_centre_agreement(value, others: Sequence, tolerance: float, ordinal: bool) -> float:
    if ordinal:
        s = sorted(others)
        mids = [s[(len(s) - 1) // 2], s[len(s) // 2]]  # one value, or the two middle ones (split)
        return sum(1 for m in mids if _agrees(value, m, tolerance)) / 2
    counts = Counter(others)
    top = max(counts.values())
    modes = [a for a, c in counts.items() if c == top]
    return sum(1 for m in modes if _agrees(value, m, tolerance)) / len(modes)


def leave_one_out(values: Sequence, *, ordinal: bool, tolerance: float = 0) -> list[float]:
    """Each answer of one item against the others': agreement in [0, 1] with their median
    (``ordinal``: ratings; with an even number of others, half for each middle value) or their
    plurality (ties split, as in :func:`peer_agreement`). Fewer than two answers: empty."""
    if len(values) < 2:
        return []
    return [_peer_centre_agreement(v, list(values[:i]) + list(values[i + 1:]), tolerance, ordinal)
            for i, v in enumerate(values)]
