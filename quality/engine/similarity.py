"""The agreement rule for items of the structured task types (issue 6). Pure: no Django. The
pairwise similarity (Jaccard, IoU with Hungarian box matching, text match, ordinal distance)
is ``tasks_app.similarity`` (pure too; at the bottom of the import order so the tutorial and
qualifier grade by the same rule) and is re-exported here.

**Items** (:func:`decide_agreement`): each answer is a hypothesis "this is the right answer";
annotator *j* with accuracy ``a_j`` agrees with the right answer with probability ``a_j``. The
likelihood of hypothesis *c* is ``prod_j a_j if j agrees with c else (1 - a_j)``; hypotheses that
agree with a stronger one are merged into it (one cluster per distinct answer), plus a "none of
these" hypothesis (everyone wrong); normalised, that gives P(c). Accepted at P >= target with at
least two agreeing answers; one more answer otherwise, ``exhausted`` at the cap. The decided
value is the cluster's consensus (:func:`consensus`).
"""
from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from tasks_app.similarity import (  # noqa: F401  (re-exported)
    DEFAULT_THRESHOLD, box_f1, box_matches, iou, jaccard, keyword_share, matches, score, words,
)


def consensus(task_type: str, config: dict, values: Sequence[Any]) -> Any:
    """One value standing for agreeing answers ``values`` (the first is the cluster's anchor):
    multi_choice: the options more than half chose, in the anchor's order of appearance;
    bbox: the anchor's boxes, each the mean of the boxes matched to it (IoU >= ``iou``), kept when
    more than half the answers have it; rating: the median; text and others: the most common value."""
    if not values:
        return None
    n = len(values)
    if task_type == "multi_choice":
        counts = Counter(o for v in values for o in v)
        order = list(dict.fromkeys(o for v in values for o in v))
        return [o for o in order if counts[o] * 2 > n]
    if task_type == "bbox":
        anchor = values[0]
        groups: list[list[dict]] = [[b] for b in anchor]
        for other in values[1:]:
            for i, j, _ in box_matches(anchor, other, config.get("iou", 0.5)):
                groups[i].append(other[j])
        out = []
        for g in groups:
            if len(g) * 2 > n or n == 1:
                out.append({"label": g[0]["label"], **{k: round(statistics.fmean(b[k] for b in g), 6) for k in ("x", "y", "w", "h")}})
        return out
    if task_type == "rating":
        return statistics.median(values)
    counts = Counter(repr(v) for v in values)
    best = max(counts.values())
    return next(v for v in values if counts[repr(v)] == best)


@dataclass(frozen=True)
class AgreementDecision:
    status: str  # accepted | more | exhausted
    anchor: int  # index of the answer that stands for the chosen cluster
    members: tuple[int, ...]  # indexes of the answers agreeing with it
    p: float  # P(the chosen cluster is right) under the model in the module docstring


def decide_agreement(
    values: Sequence[Any],
    accuracies: Sequence[float],
    agree: Callable[[Any, Any], bool],
    *,
    target: float,
    cap: int,
) -> AgreementDecision:
    """The agreement rule (module docstring). ``accuracies`` are clipped to [0.05, 0.99];
    ``agree`` must be symmetric (every similarity in ``tasks_app.similarity`` is)."""
    n = len(values)
    acc = [min(0.99, max(0.05, a)) for a in accuracies]
    logs_right = [math.log(a) for a in acc]
    logs_wrong = [math.log(1 - a) for a in acc]
    # agreement is symmetric: each pair compared once (n(n-1)/2 calls; a box pair costs a matching)
    support = [[i] for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if agree(values[i], values[j]):
                support[i].append(j)
                support[j].append(i)
    support = [sorted(s) for s in support]

    def loglik(i: int) -> float:
        s = set(support[i])
        return sum(logs_right[j] if j in s else logs_wrong[j] for j in range(n))

    order = sorted(range(n), key=lambda i: (-loglik(i), i))
    clusters: list[int] = []
    for i in order:
        if not any(i in support[c] for c in clusters):
            clusters.append(i)
    logs = [loglik(c) for c in clusters] + [sum(logs_wrong)]
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]
    best = clusters[0]
    p = weights[0] / sum(weights)
    members = tuple(sorted(support[best]))
    if p >= target and len(members) >= min(2, cap):
        status = "accepted"
    elif n >= cap:
        status = "exhausted"
    else:
        status = "more"
    return AgreementDecision(status, best, members, p)


def subjective_summary(task_type: str, values: Sequence[Any]) -> dict:
    """What a subjective item delivers: the distribution of answers and its centre
    (median rating; the most chosen candidate, lowest number on a tie)."""
    counts = Counter(values)
    if task_type == "rating":
        centre = statistics.median(values)
    else:
        best = max(counts.values())
        centre = min(v for v, c in counts.items() if c == best)
    return {"answers": len(values), "counts": {str(k): c for k, c in sorted(counts.items())}, "centre": centre}
