"""Auditing the answer key of a hidden known-answer item: no label is assumed perfect.

Only *strong* annotators' answers are evidence (posterior lower bound at or above the bar, at
least ``MIN_CHECKS`` checks, their accuracy estimated leaving this item's check out): a weak
annotator disagreeing with a key says little about the key. With their accuracies ``a_i``
(one-coin: a wrong answer picks any other label with equal chance) and a prior
``PRIOR_KEY_RIGHT`` = 0.9 that a key is right (customers' keys have errors: a few % is common
in public data sets), the posterior that the key is right is

    P(key) ∝ prior · Π_i like_i(key),   P(l) ∝ (1-prior)/(K-1) · Π_i like_i(l) for each l ≠ key,
    like_i(l) = a_i if answer_i == l else (1 - a_i)/(K - 1).

The item is flagged when P(key right) < ``FLAG_BELOW`` = 0.5 and at least ``MIN_DISAGREE``
= 3 strong annotators disagree with the key: the key is then more likely wrong than right.
Evidence: every strong answer with its annotator accuracy, the counts, the suggested label.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

MODEL_VERSION = "known-audit-1"
PRIOR_KEY_RIGHT = 0.9
FLAG_BELOW = 0.5
MIN_DISAGREE = 3
MIN_CHECKS = 5


@dataclass(frozen=True)
class KeyAudit:
    p_key_correct: float
    suggested_label: str
    flagged: bool
    strong_answers: int
    disagreeing: int
    evidence: dict = field(default_factory=dict)


def audit_key(labels: Sequence[str], key: str, answers: Sequence[tuple[str, float]], *,
              prior: float = PRIOR_KEY_RIGHT, flag_below: float = FLAG_BELOW,
              min_disagree: int = MIN_DISAGREE) -> KeyAudit:
    """``answers``: (label, accuracy) of strong annotators on this item. Pure."""
    labels = list(labels)
    k = max(2, len(labels))
    if key not in labels:
        raise ValueError(f"key {key!r} is not one of the labels")
    logp = {}
    for lab in labels:
        base = math.log(prior) if lab == key else math.log((1 - prior) / (k - 1))
        for ans, acc in answers:
            a = min(max(acc, 1e-6), 1 - 1e-6)
            base += math.log(a) if ans == lab else math.log((1 - a) / (k - 1))
        logp[lab] = base
    m = max(logp.values())
    z = sum(math.exp(v - m) for v in logp.values())
    post = {lab: math.exp(v - m) / z for lab, v in logp.items()}
    p_key = post[key]
    suggested = max(labels, key=lambda lab: (post[lab], lab == key))
    disagree = sum(1 for ans, _ in answers if ans != key)
    flagged = p_key < flag_below and disagree >= min_disagree
    counts: dict[str, int] = {}
    for ans, _ in answers:
        counts[ans] = counts.get(ans, 0) + 1
    return KeyAudit(
        p_key_correct=p_key, suggested_label=suggested, flagged=flagged, strong_answers=len(answers),
        disagreeing=disagree,
        evidence={
            "model": MODEL_VERSION, "prior_key_right": prior, "counts": counts,
            "posterior": {lab: round(p, 4) for lab, p in post.items()},
            "strong_answers": [[ans, round(acc, 4)] for ans, acc in answers],
        },
    )
