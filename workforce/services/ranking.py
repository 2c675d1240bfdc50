"""Who will do well: predicted accuracy of an annotator on a new project.

A logistic regression (scikit-learn) predicts whether one hidden known-answer check is
answered correctly from what was known about the annotator *before* that project: their
check accuracy elsewhere (overall and on the same task type, Laplace-smoothed), how many
checks that rests on, their mean qualifier score, tenure and recent activity. Trained from a
snapshot of the history at ranking time (the last MAX_TRAIN_ROWS scored checks); with too
little history (< MIN_TRAIN_ROWS rows or a single class) it falls back to the prior: the
platform's smoothed check accuracy shrunk towards the qualifier score. A newcomer with no
checks gets the model's prediction for "no history" (its features are all prior values), so
they are ranked after proven annotators but not excluded.

``features()`` is pure (no database) so bench/ranking.py uses the very same features on the
replay crowd data.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from tasks_app import selectors as task_selectors
from tasks_app.models import Answer, Project

from ..models import AnnotatorProfile, Membership

MAX_TRAIN_ROWS = 50_000
MIN_TRAIN_ROWS = 50
PRIOR_ACCURACY = 0.75  # before any data at all: the usual qualifier pass level
FEATURE_NAMES = ["acc_smoothed", "acc_same_type_smoothed", "log_checks", "qualifier_score", "has_history",
                 "log_tenure_days", "log_answers_30d"]


def features(*, checks: int, correct: int, checks_same_type: int, correct_same_type: int,
             qualifier_score: float | None, tenure_days: float, answers_30d: int) -> list[float]:
    acc = (correct + 1) / (checks + 2)
    acc_type = (correct_same_type + 1) / (checks_same_type + 2) if checks_same_type else acc
    return [acc, acc_type, math.log1p(checks), qualifier_score if qualifier_score is not None else PRIOR_ACCURACY,
            # whole days: a fraction of a day is noise that the scaler would blow up to unit variance
            1.0 if checks else 0.0, math.log1p(max(math.floor(tenure_days), 0)), math.log1p(answers_30d)]


@dataclass
class History:
    """Per annotator, per project: scored checks and correct ones; qualifier scores; joined."""

    checks: dict  # (annotator_id, project_id) → (n, k)
    task_type: dict  # project_id → task type
    qualifier: dict  # annotator_id → list of (project_id, score)
    joined: dict  # annotator_id → datetime
    answers_30d: dict  # annotator_id → int


def history(annotator_ids=None, now: datetime | None = None) -> History:
    now = now or timezone.now()
    q = task_selectors.graded_known_checks()
    if annotator_ids is not None:
        q = q.filter(annotator_id__in=list(annotator_ids))
    checks = {(r["annotator_id"], r["project_id"]): (r["n"], r["k"]) for r in
              q.values("annotator_id", "project_id").annotate(n=Count("id"), k=Count("id", filter=Q(correct=True)))}
    task_type = dict(Project.objects.values_list("id", "task_type"))
    qual = defaultdict(list)
    mq = Membership.objects.filter(qualifier_total__gt=0)
    if annotator_ids is not None:
        mq = mq.filter(annotator_id__in=list(annotator_ids))
    for aid, pid, c, t in mq.values_list("annotator_id", "project_id", "qualifier_correct", "qualifier_total"):
        qual[aid].append((pid, (c or 0) / t))
    pq = AnnotatorProfile.objects.all()
    if annotator_ids is not None:
        pq = pq.filter(user_id__in=list(annotator_ids))
    joined = dict(pq.values_list("user_id", "created_at"))
    aq = Answer.objects.filter(created_at__gte=now - timedelta(days=30))
    if annotator_ids is not None:
        aq = aq.filter(annotator_id__in=list(annotator_ids))
    answers_30d = dict(aq.values("annotator_id").annotate(n=Count("id")).values_list("annotator_id", "n"))
    return History(checks, task_type, dict(qual), joined, answers_30d)


def features_for(h: History, annotator_id: int, project: Project, now: datetime) -> list[float]:
    """Features of one annotator for ``project`` from their history on every *other* project."""
    n = k = nt = kt = 0
    for (aid, pid), (cn, ck) in h.checks.items():
        if aid != annotator_id or pid == project.pk:
            continue
        n, k = n + cn, k + ck
        if h.task_type.get(pid) == project.task_type:
            nt, kt = nt + cn, kt + ck
    quals = [s for pid, s in h.qualifier.get(annotator_id, []) if pid != project.pk]
    joined = h.joined.get(annotator_id) or now
    return features(checks=n, correct=k, checks_same_type=nt, correct_same_type=kt,
                    qualifier_score=sum(quals) / len(quals) if quals else None,
                    tenure_days=(now - joined).total_seconds() / 86400, answers_30d=h.answers_30d.get(annotator_id, 0))


class Model:
    """A fitted classifier, or the prior when there was too little history."""

    def __init__(self, clf=None, n_rows: int = 0, prior: float = PRIOR_ACCURACY):
        self.clf, self.n_rows, self.prior = clf, n_rows, prior

    def predict(self, rows: list[list[float]]) -> list[float]:
        if not rows:
            return []
        if self.clf is None:  # no model: smoothed accuracy where known, else prior and qualifier score
            return [r[0] if r[4] else 0.5 * self.prior + 0.5 * r[3] for r in rows]
        return [float(p) for p in self.clf.predict_proba(rows)[:, 1]]


def fit(X: list[list[float]], y: list[int]):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)).fit(X, y)


def model_train(*, now: datetime | None = None) -> Model:
    """Fit on the last MAX_TRAIN_ROWS scored checks: each check's features are its
    annotator's history on the other projects (no leak from the project it belongs to)."""
    now = now or timezone.now()
    rows = list(task_selectors.graded_known_checks().order_by("-id")
                .values_list("annotator_id", "project_id", "correct")[:MAX_TRAIN_ROWS])
    total = len(rows)
    prior = (sum(1 for r in rows if r[2]) + 1) / (total + 2) if rows else PRIOR_ACCURACY
    if total < MIN_TRAIN_ROWS or len({r[2] for r in rows}) < 2:
        return Model(None, total, prior)
    h = history({r[0] for r in rows}, now)
    projects = {p.pk: p for p in Project.objects.filter(pk__in={r[1] for r in rows})}
    cache: dict = {}
    X, y = [], []
    for aid, pid, correct in rows:
        key = (aid, pid)
        if key not in cache:
            cache[key] = features_for(h, aid, projects[pid], now)
        X.append(cache[key])
        y.append(1 if correct else 0)
    return Model(fit(X, y), total, prior)


def rank(*, project: Project, annotator_ids, model: Model | None = None, now: datetime | None = None) -> list[tuple[int, float]]:
    """``(annotator_id, predicted accuracy)`` best first (ties: longer tenure, then id)."""
    now = now or timezone.now()
    ids = list(annotator_ids)
    if not ids:
        return []
    model = model or model_train(now=now)
    h = history(ids, now)
    X = [features_for(h, aid, project, now) for aid in ids]
    preds = model.predict(X)
    return sorted(zip(ids, preds), key=lambda t: (-t[1], t[0]))
