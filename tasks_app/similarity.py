"""Pairwise similarity of structured answers (issue 6). Pure: no Django, no app imports.

It lives in tasks_app, the bottom of the import order, because three places must judge an
answer by the same rule: the quality engine (checks and item agreement:
``quality.engine.similarity``), and the tutorial and qualifier in workforce, which may not
import quality. Values come in as ``tasks_app.task_types`` stores them; free text already
normalised (``task_types.text_normalise``).

- **multi_choice**: Jaccard overlap of the chosen sets (two empty sets: 1).
- **rating**: ordinal distance; agreeing when ``|a - b| <= tolerance``.
- **text**: ``exact`` mode: equal normalised texts; against a known keyword list: the share of
  keywords found as whole words or phrases in the answer; between two ``keywords``-mode answers:
  Jaccard of their word sets.
- **bbox**: box-by-box matching with the Hungarian method (``scipy.optimize.linear_sum_assignment``
  on IoU, boxes of different classes never match); a pair counts when IoU >= ``iou``; the score is
  the F1 of matched boxes, ``2·matched / (boxes in a + boxes in b)`` (both empty: 1).

Right (against a known value) or agreeing (two answers) = score >= the type's ``threshold``
(``type_config``; defaults 0.5 Jaccard, 1.0 keyword share / exact text, 0.75 box F1).
"""
from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

DEFAULT_THRESHOLD = {"multi_choice": 0.5, "text": 1.0, "bbox": 0.75}


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def iou(a: dict, b: dict) -> float:
    """Intersection over union of two ``{x, y, w, h}`` boxes."""
    ix = max(0.0, min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]))
    iy = max(0.0, min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]))
    inter = ix * iy
    union = a["w"] * a["h"] + b["w"] * b["h"] - inter
    return inter / union if union > 0 else 0.0


def box_matches(a: Sequence[dict], b: Sequence[dict], min_iou: float) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, iou)`` of a one-to-one matching of ``a``'s boxes to ``b``'s with the largest
    total IoU (Hungarian method), same class only, keeping pairs with IoU >= ``min_iou``."""
    if not a or not b:
        return []
    m = np.array([[iou(x, y) if x["label"] == y["label"] else 0.0 for y in b] for x in a])
    rows, cols = linear_sum_assignment(m, maximize=True)
    return [(int(i), int(j), float(m[i, j])) for i, j in zip(rows, cols) if m[i, j] >= min_iou and m[i, j] > 0]


def box_f1(a: Sequence[dict], b: Sequence[dict], min_iou: float) -> float:
    if not a and not b:
        return 1.0
    return 2 * len(box_matches(a, b, min_iou)) / (len(a) + len(b))


def keyword_share(text: str, keywords: Sequence[str]) -> float:
    """Share of (normalised) keywords found in the normalised text as whole words / phrases."""
    if not keywords:
        return 1.0
    padded = f" {text} "
    return sum(1 for k in keywords if f" {k} " in padded) / len(keywords)


def words(text: str) -> set[str]:
    return set(re.findall(r"\S+", text))


def score(task_type: str, config: dict, answer: Any, known: Any) -> float:
    """Similarity in [0, 1] of an answer to a known value (or to another answer)."""
    if task_type == "multi_choice":
        return jaccard(answer, known)
    if task_type == "bbox":
        return box_f1(answer, known, config.get("iou", 0.5))
    if task_type == "text":
        if isinstance(known, list):
            return keyword_share(answer, known)
        if config.get("mode") == "keywords":
            return jaccard(words(answer), words(known))
        return 1.0 if answer == known else 0.0
    if task_type == "rating":
        span = (config["max"] - config["min"]) or 1
        return 1.0 - abs(float(answer) - float(known)) / span
    return 1.0 if answer == known else 0.0


def matches(task_type: str, config: dict, answer: Any, known: Any) -> bool:
    """Right (against a known value) / agreeing (between two answers)."""
    if task_type == "rating":
        return abs(float(answer) - float(known)) <= config.get("tolerance", 0) + 1e-9
    threshold = config.get("threshold", DEFAULT_THRESHOLD.get(task_type, 1.0))
    return score(task_type, config, answer, known) >= threshold - 1e-9
