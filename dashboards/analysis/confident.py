"""Label-error suspects by confident learning (Northcutt et al.), written with scikit-learn.

1. **Features, chosen per data** (``features_of``): every string field of an item's JSON data
   (or the item itself when it is a string) joined into one text → TF-IDF of words and word
   pairs (sublinear tf); numeric fields (not booleans) → standardised columns. Items with both
   get both side by side (``ColumnTransformer``). Items with neither cannot be judged.
2. **Out-of-fold probabilities**: logistic regression (multinomial, ``C=1``, class weights
   balanced so a rare class is not drowned), ``cross_val_predict(method="predict_proba")`` on
   a stratified, shuffled K-fold (K = 5, fewer when the smallest class has fewer items; classes
   with fewer than 2 items are left out: they cannot be cross-validated). Each item's
   probabilities come from a model that never saw it.
3. **Per-class thresholds** t_j = mean predicted probability of class j over the items
   delivered as j (the class's mean self-confidence).
4. **Confident joint**: an item delivered as i counts in C[i][j] for the class j with the
   highest probability among those with p_j ≥ t_j (none: it is not counted). The off-diagonal
   items are the **suspects**: the model is confident they belong to another class.
5. **Ranking** by normalised margin p_given − max_{j≠given} p_j, most negative first (ties by
   lower self-confidence).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MAX_FOLDS = 5
MIN_ITEMS = 10


class NotEnoughData(ValueError):
    """The batch cannot be analysed (message for a person)."""


@dataclass
class Suspect:
    index: int  # position in the input
    given: str
    suggested: str
    self_confidence: float  # p(given)
    suggested_confidence: float  # p(suggested)
    margin: float  # p(given) - max other p


@dataclass
class Result:
    suspects: list[Suspect]
    classes: list[str]
    thresholds: dict[str, float]
    confident_joint: list[list[int]]
    features: str
    folds: int
    items_used: int
    left_out: dict = field(default_factory=dict)  # reason -> count
    probabilities: np.ndarray | None = None


def features_of(data) -> tuple[str, dict[str, float]]:
    """(text, numeric fields) of one item's data."""
    if isinstance(data, str):
        return data, {}
    texts: list[str] = []
    nums: dict[str, float] = {}
    if isinstance(data, dict):
        for key in sorted(data):
            v = data[key]
            if isinstance(v, str):
                texts.append(v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
                nums[str(key)] = float(v)
    elif isinstance(data, list):
        texts.extend(v for v in data if isinstance(v, str))
    return " ".join(texts), nums


def _design(datas: list) -> tuple:
    """(feature table as a DataFrame, description, indices of the items that have features,
    whether text is used, numeric columns used)."""
    import pandas as pd

    rows = [features_of(d) for d in datas]
    num_keys = sorted({k for _, nums in rows for k in nums})
    # numeric columns present in at least half the items (others are too sparse to scale)
    num_keys = [k for k in num_keys if sum(k in n for _, n in rows) * 2 >= len(rows)]
    has_text = sum(bool(t.strip()) for t, _ in rows) * 2 >= len(rows)
    keep = [i for i, (t, n) in enumerate(rows) if (has_text and t.strip()) or (num_keys and all(k in n for k in num_keys))]
    frame = pd.DataFrame({"__text": [rows[i][0] for i in keep], **{
        f"num:{k}": [rows[i][1].get(k, 0.0) for i in keep] for k in num_keys}})
    parts = (["TF-IDF of text fields (words and word pairs)"] if has_text else []) + (
        [f"standardised numeric fields ({', '.join(num_keys)})"] if num_keys else [])
    if not parts:
        raise NotEnoughData("The items have neither text nor numeric fields to learn from.")
    return frame, " + ".join(parts), keep, has_text, num_keys


def _pipeline(has_text: bool, num_keys: list[str]):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    transformers = []
    if has_text:
        transformers.append(("text", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1), "__text"))
    if num_keys:
        transformers.append(("num", StandardScaler(), [f"num:{k}" for k in num_keys]))
    return make_pipeline(ColumnTransformer(transformers),
                         LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"))


def find_suspects(datas: list, labels: list[str], *, seed: int = 0) -> Result:
    """Suspects among items ``datas`` delivered with ``labels`` (same order)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if len(datas) != len(labels):
        raise ValueError("datas and labels differ in length")
    counts = Counter(labels)
    left_out: dict[str, int] = {}
    small = {c for c, n in counts.items() if n < 2}
    if small:
        left_out["class with fewer than 2 items"] = sum(counts[c] for c in small)
    idx = [i for i, lab in enumerate(labels) if lab not in small]
    if len(idx) < MIN_ITEMS or len({labels[i] for i in idx}) < 2:
        raise NotEnoughData(f"Needs at least {MIN_ITEMS} delivered items in at least two labels with 2+ items each.")
    frame, described, keep, has_text, num_keys = _design([datas[i] for i in idx])
    if len(keep) < len(idx):
        left_out["no features"] = len(idx) - len(keep)
    idx = [idx[k] for k in keep]
    y = np.array([labels[i] for i in idx])
    classes = sorted(set(y))
    if len(idx) < MIN_ITEMS or len(classes) < 2:
        raise NotEnoughData(f"Needs at least {MIN_ITEMS} items with features in at least two labels.")
    folds = int(min(MAX_FOLDS, min(Counter(y).values())))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(_pipeline(has_text, num_keys), frame, y, cv=cv, method="predict_proba")
    ci = {c: j for j, c in enumerate(classes)}
    given = np.array([ci[lab] for lab in y])
    thresholds = np.array([proba[given == j, j].mean() for j in range(len(classes))])
    joint = np.zeros((len(classes), len(classes)), dtype=np.int64)
    suspects: list[Suspect] = []
    for row, g in enumerate(given):
        p = proba[row]
        above = np.flatnonzero(p >= thresholds)
        if not len(above):
            continue
        j = int(above[np.argmax(p[above])])
        joint[g, j] += 1
        if j != g:
            others = np.delete(p, g)
            suspects.append(Suspect(index=idx[row], given=classes[g], suggested=classes[j],
                                    self_confidence=float(p[g]), suggested_confidence=float(p[j]),
                                    margin=float(p[g] - others.max())))
    suspects.sort(key=lambda s: (s.margin, s.self_confidence, s.index))
    return Result(suspects=suspects, classes=classes, thresholds={c: float(thresholds[j]) for j, c in enumerate(classes)},
                  confident_joint=joint.tolist(), features=described, folds=folds, items_used=len(idx),
                  left_out=left_out, probabilities=proba)
