"""Answer-quality model: P(this answer is correct) from behaviour and content.

Pure (numpy + scikit-learn, no Django). Features of one answer, all computed from what was
known *before* it (the same code builds them for training and at scoring time):

* ``log_dur_vs_annotator``: log(time on task / the annotator's median so far) — rushing
  compared with one's own pace;
* ``log_dur_vs_item``: log(time on task / the item's median so far) — rushing compared with
  other people on the same content;
* ``log_duration``: log seconds on task;
* ``paste_count``, ``focus_changes``: from ``Answer.signals`` (the task page's ``pastes`` and
  ``blurs`` counts, see README "Behaviour signals"); ``signals_missing`` = 1 when the page sent none;
* ``same_streak``: how many of the annotator's answers in a row before this one carry the
  same label (a spammer clicking one button);
* ``label_entropy``: entropy (bits) of the annotator's last 20 labels;
* ``session_position``: answers since the annotator's last break of 30 minutes (fatigue);
* ``annotator_accuracy``: the annotator's posterior mean; ``item_difficulty``: share of the
  item's earlier answers that disagree with their plurality (0.5 when none).

A missing value (no duration, first answer) is imputed with a neutral value and flagged.
The model is scikit-learn's ``HistGradientBoostingClassifier`` (handles the non-linear
"very fast *and* one label" patterns; small, fast to predict), trained on known-answer
outcomes with a stratified 25 % hold-out for the AUC. The per-answer weight the acceptance
may use is ``min(1, p / reference_p)`` floored at ``MIN_WEIGHT``: an answer as likely right
as the median answer (``reference_p``) or more weighs 1; a suspicious one weighs less.
"""
from __future__ import annotations

import io
import math
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from statistics import median
from typing import Any, Iterable

FEATURES = [
    "log_dur_vs_annotator", "log_dur_vs_item", "log_duration", "paste_count", "focus_changes", "signals_missing",
    "same_streak", "label_entropy", "session_position", "annotator_accuracy", "item_difficulty",
]
ALGORITHM = "sklearn.HistGradientBoostingClassifier"
MIN_WEIGHT = 0.05
SESSION_GAP_SECONDS = 30 * 60
ENTROPY_WINDOW = 20
MEDIAN_WINDOW = 50
MIN_TRAIN = 200


@dataclass(frozen=True)
class AnswerRecord:
    """One answer as the feature builder sees it (in time order)."""

    annotator: Any
    item: Any
    label: str
    at: float  # seconds (any origin)
    duration_ms: int | None = None
    signals: dict | None = None
    annotator_accuracy: float = 0.75


def _num(signals: dict | None, key: str) -> float | None:
    if not isinstance(signals, dict):
        return None
    v = signals.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        return None
    return float(v)


def _entropy(labels: Iterable[str]) -> float:
    c = Counter(labels)
    n = sum(c.values())
    if n == 0:
        return 0.0
    return -sum((k / n) * math.log2(k / n) for k in c.values())


class FeatureBuilder:
    """Running state per annotator and item; ``add`` returns the features of an answer from
    the state *before* it, then records it. O(window) per answer."""

    def __init__(self) -> None:
        self.ann_dur: dict[Any, deque] = defaultdict(lambda: deque(maxlen=MEDIAN_WINDOW))
        self.ann_labels: dict[Any, deque] = defaultdict(lambda: deque(maxlen=ENTROPY_WINDOW))
        self.ann_last: dict[Any, tuple[float, int]] = {}
        self.ann_streak: dict[Any, tuple[str, int]] = {}
        self.item_dur: dict[Any, list[float]] = defaultdict(list)
        self.item_labels: dict[Any, Counter] = defaultdict(Counter)

    def features(self, r: AnswerRecord) -> list[float]:
        dur = r.duration_ms / 1000.0 if r.duration_ms else None
        a_med = median(self.ann_dur[r.annotator]) if self.ann_dur.get(r.annotator) else None
        i_med = median(self.item_dur[r.item]) if self.item_dur.get(r.item) else None
        paste = _num(r.signals, "pastes")
        focus = _num(r.signals, "blurs")
        last_label, streak = self.ann_streak.get(r.annotator, (None, 0))
        last = self.ann_last.get(r.annotator)
        position = 0 if last is None or r.at - last[0] > SESSION_GAP_SECONDS else last[1] + 1
        votes = self.item_labels.get(r.item)
        n_votes = sum(votes.values()) if votes else 0
        difficulty = 1 - max(votes.values()) / n_votes if n_votes else 0.5
        return [
            math.log(dur / a_med) if dur and a_med else 0.0,
            math.log(dur / i_med) if dur and i_med else 0.0,
            math.log(dur) if dur else 0.0,
            paste or 0.0,
            focus or 0.0,
            1.0 if paste is None and focus is None else 0.0,
            float(streak if last_label == r.label else 0),
            _entropy(self.ann_labels[r.annotator]) if self.ann_labels.get(r.annotator) else 1.0,
            float(position),
            float(r.annotator_accuracy),
            float(difficulty),
        ]

    def record(self, r: AnswerRecord) -> None:
        if r.duration_ms:
            self.ann_dur[r.annotator].append(r.duration_ms / 1000.0)
            self.item_dur[r.item].append(r.duration_ms / 1000.0)
        self.ann_labels[r.annotator].append(r.label)
        last_label, streak = self.ann_streak.get(r.annotator, (None, 0))
        self.ann_streak[r.annotator] = (r.label, streak + 1 if last_label == r.label else 1)
        last = self.ann_last.get(r.annotator)
        position = 0 if last is None or r.at - last[0] > SESSION_GAP_SECONDS else last[1] + 1
        self.ann_last[r.annotator] = (r.at, position)
        self.item_labels[r.item][r.label] += 1

    def add(self, r: AnswerRecord) -> list[float]:
        x = self.features(r)
        self.record(r)
        return x


@dataclass
class FittedAnswerModel:
    model: Any
    reference_p: float
    n_train: int
    n_test: int
    auc_test: float | None
    metrics: dict

    def predict(self, rows: list[list[float]]) -> list[float]:
        import numpy as np

        return [float(p) for p in self.model.predict_proba(np.asarray(rows, dtype=float))[:, 1]]

    def weight(self, row: list[float]) -> float:
        return answer_weight_from_p(self.predict([row])[0], self.reference_p)


def answer_weight_from_p(p: float, reference_p: float) -> float:
    """Weight in (0, 1]: 1 for an answer at least as likely right as the median one."""
    if not (reference_p > 0):
        return 1.0
    return max(MIN_WEIGHT, min(1.0, p / reference_p))


def fit(X: list[list[float]], y: list[bool], *, seed: int = 0, baseline_col: int | None = None) -> FittedAnswerModel:
    """Fit on known-answer outcomes with a stratified 25 % hold-out. Raises ValueError when
    there are too few outcomes, or only one class, to learn anything."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import train_test_split

    Xa, ya = np.asarray(X, dtype=float), np.asarray(y, dtype=int)
    if len(ya) < MIN_TRAIN or ya.min() == ya.max() or min(ya.sum(), len(ya) - ya.sum()) < 10:
        raise ValueError(f"need >= {MIN_TRAIN} outcomes with both classes (>= 10 each); got {len(ya)}, {int(ya.sum())} correct")
    Xtr, Xte, ytr, yte = train_test_split(Xa, ya, test_size=0.25, random_state=seed, stratify=ya)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, max_leaf_nodes=15,
                                           l2_regularization=1.0, random_state=seed)
    model.fit(Xtr, ytr)
    p_te = model.predict_proba(Xte)[:, 1]
    auc = float(roc_auc_score(yte, p_te))
    metrics = {
        "auc_test": round(auc, 4),
        "brier_test": round(float(brier_score_loss(yte, p_te)), 4),
        "base_rate_test": round(float(yte.mean()), 4),
        "n_train": int(len(ytr)),
        "n_test": int(len(yte)),
        "features": FEATURES,
    }
    if baseline_col is not None:  # the annotator's accuracy alone, for comparison
        metrics["auc_test_annotator_accuracy_only"] = round(float(roc_auc_score(yte, Xte[:, baseline_col])), 4)
    ref = float(np.median(model.predict_proba(Xtr)[:, 1]))
    return FittedAnswerModel(model, ref, int(len(ytr)), int(len(yte)), auc, metrics)


def dumps(model: Any) -> bytes:
    import joblib

    buf = io.BytesIO()
    joblib.dump(model, buf)
    return buf.getvalue()


def loads(blob: bytes) -> Any:
    import joblib

    return joblib.load(io.BytesIO(bytes(blob)))
