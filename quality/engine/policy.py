"""Assignment policy: how often to give a hidden known-answer check, and which item to give.

``known_check_rate``: a new annotator is calibrated first (every task is a check until
``CALIBRATION_CHECKS`` checks are done); after that the rate is highest for borderline
annotators (P(accuracy < bar) near 1/2, where one more check changes the gating decision most)
and falls to a floor for proven ones. The floor itself decays with the evidence already held,
``FLOOR * sqrt(FLOOR_CHECKS / checks)`` once an annotator has more than ``FLOOR_CHECKS`` (20)
checks, never below ``MIN_RATE`` (0.03): one more check tells little about someone with 200, and
the per-class model (``engine.confusion`` / ``engine.em``) also learns from their regular answers.
Never zero, so everyone stays audited and a proven annotator who starts guessing is still caught.
An annotator who is more likely below the bar than above it (P(accuracy < bar) >= 1/2) gets
only checks until gating settles it: their regular answers would be weak evidence anyway, and
a poor annotator must not escape revocation by drawing few checks.

``choose_item``: higher customer priority first; then items already in progress with the most
answers (finishing what was started delivers items sooner and keeps few items half-done); ties
broken at random so concurrent annotators spread out instead of queueing on the same rows. The
database side mirrors it as ``ORDER BY priority DESC, answer_count DESC`` starting from a random
point (SKIP LOCKED).

``choose_item`` also receives who is asking (``asker``: the annotator's accuracy posterior,
``confusion``: its per-class rows, ``bar``) and, per candidate, the item's current label posterior
and how many of its answers come from ``proven`` annotators. The production order ignores them
on purpose: worker-aware routing was measured and rejected (issue 4; BENCHMARKS.md "Crowd replay:
routing"; ``bench/replay_variants.py`` ``ROUTE=``). Giving proven annotators the least certain
item, or the item their answer moves most (expected gain in P(top label) under their confusion
rows), or items no proven annotator has answered; giving new/borderline annotators fresh items;
ordering by P instead of by answer count: none beat "most answers first" on any of the three
crowd sets by more than noise, and most lost on all three. The inputs stay so a policy that does
can be measured through the same call the replay makes.
"""
from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .annotator import AnnotatorPosterior

CALIBRATION_CHECKS = 3
FLOOR = 0.10
FLOOR_CHECKS = 20
MIN_RATE = 0.03
CEILING = 0.50


def known_check_rate(
    post: AnnotatorPosterior,
    *,
    bar: float = 0.75,
    calibration_checks: int = CALIBRATION_CHECKS,
    floor: float = FLOOR,
    ceiling: float = CEILING,
) -> float:
    """Probability that the next task given to this annotator is a hidden known-answer check."""
    if post.checks < calibration_checks:
        return 1.0
    p = post.prob_below(bar)
    if p >= 0.5:
        return 1.0
    uncertainty = 4.0 * p * (1.0 - p)  # 1 at p = 1/2, 0 when the gating decision is clear
    if post.checks > FLOOR_CHECKS:
        floor = max(MIN_RATE, floor * math.sqrt(FLOOR_CHECKS / post.checks))
    return max(floor, min(1.0, floor + (ceiling - floor) * uncertainty))


def shadow_eligible(post: AnnotatorPosterior, *, bar: float = 0.75) -> bool:
    """Whether this annotator's next check answer may enter its known item's *shadow delivery*
    (the claim's sample, ``engine.delivery`` / ``engine.estimate``). A shadow delivery must see
    the crowd a regular item sees. Everyone passes through calibration, so those answers come
    from the same population as later regular answers and are kept; but an annotator past
    calibration who is probably below the bar (P(accuracy < bar) >= 1/2) gets checks only
    (``known_check_rate`` = 1): their answers reach no regular item and must not reach a shadow
    either, or the claim is measured on a worse crowd than the delivery's."""
    return post.checks < CALIBRATION_CHECKS or post.prob_below(bar) < 0.5


@dataclass(frozen=True)
class Candidate:
    item: Hashable
    answers: int = 0
    priority: int = 0
    posterior: Mapping[str, float] | None = None  # the item's label posterior now (None: no answer yet)
    proven_answers: int = 0  # answers on it from annotators proven now


PROVEN = 0.05


def proven(post: AnnotatorPosterior, *, bar: float = 0.75) -> bool:
    """Past calibration and credibly above the bar: P(accuracy < bar) < ``PROVEN`` (0.05, the
    mirror of the gate's own 'credibly below' at 0.95). Used by the routing variants measured in
    ``bench/replay_variants.py``; the production order does not route on it."""
    return post.checks >= CALIBRATION_CHECKS and post.prob_below(bar) < PROVEN


def choose_item(
    candidates: Sequence[Candidate],
    rng: random.Random,
    *,
    asker: AnnotatorPosterior | None = None,
    confusion: Any = None,
    bar: float | None = None,
) -> Candidate | None:
    """The candidate to give next (see module docstring), or None when there is none.

    ``asker``/``confusion``/``bar`` and the candidates' ``posterior``/``proven_answers`` are what a
    worker-aware order would read; this order does not use them (measured, module docstring)."""
    best: Candidate | None = None
    best_key: tuple | None = None
    for c in candidates:
        key = (c.priority, c.answers, rng.random())
        if best_key is None or key > best_key:
            best, best_key = c, key
    return best
