"""The answer-quality model around the database: train it on known-answer outcomes (stored
versioned), and weigh an answer with the active version (``answer_weight``). The math is in
``quality.engine.answer_model``."""
from __future__ import annotations

import json
import logging
import time

from django.db import connection, transaction
from django.db.models import Max, Subquery, Value

from tasks_app.models import Answer
from tasks_app.services.sql import prepared_cursor

from .. import engine
from ..engine import answer_model as am
from ..models import AnnotatorQuality, AnswerQualityModel

log = logging.getLogger(__name__)
TRAIN_LIMIT = 200_000  # newest answers read for one training run
_CACHE: dict = {"checked": 0.0, "version": None, "model": None}
CACHE_SECONDS = 60.0


def _records(rows, n_labels_of):
    """(answer id, record, is_check, correct) in id order, with the running accuracy
    posterior of each annotator from the checks before each answer."""
    posts: dict = {}
    for r in rows:
        key = (r["project_id"], r["annotator_id"])
        post = posts.get(key) or engine.default_prior(n_labels_of[r["project_id"]])
        rec = am.AnswerRecord(
            annotator=key, item=r["item_id"], label=r["label"], at=r["created_at"].timestamp(),
            duration_ms=r["duration_ms"], signals=r["signals"], annotator_accuracy=post.mean,
        )
        yield r["id"], rec, r["is_check"], r["correct"]
        if r["is_check"] and r["correct"] is not None:
            posts[key] = engine.posterior_update(post, bool(r["correct"]))


def training_data(*, limit: int = TRAIN_LIMIT) -> tuple[list[list[float]], list[bool]]:
    """Features of every scored check answer (outcome known) among the newest ``limit``
    answers, built in time order with the same code as scoring time."""
    from tasks_app.models import Project

    last = Answer.objects.aggregate(m=Max("id"))["m"] or 0
    rows = list(
        Answer.objects.filter(id__gt=last - limit).order_by("id").values(
            "id", "project_id", "annotator_id", "item_id", "label", "created_at", "duration_ms", "signals", "is_check", "correct"
        )
    )
    n_labels_of = {p: len(labels) for p, labels in Project.objects.filter(id__in={r["project_id"] for r in rows}).values_list("id", "labels")}
    fb = am.FeatureBuilder()
    X, y = [], []
    for _, rec, is_check, correct in _records(rows, n_labels_of):
        x = fb.add(rec)
        if is_check and correct is not None:
            X.append(x)
            y.append(bool(correct))
    return X, y


def answer_model_train(*, limit: int = TRAIN_LIMIT, seed: int = 0) -> AnswerQualityModel | None:
    """Fit a new version on known-answer outcomes and make it the active one. None (and the
    previous version stays) when there is not enough data to learn anything."""
    t0 = time.monotonic()
    X, y = training_data(limit=limit)
    try:
        fitted = am.fit(X, y, seed=seed, baseline_col=am.FEATURES.index("annotator_accuracy"))
    except ValueError as exc:
        log.info("answer model not retrained: %s", exc)
        return None
    metrics = dict(fitted.metrics, seconds=round(time.monotonic() - t0, 2), data="known-answer outcomes (production)")
    with transaction.atomic():
        version = (AnswerQualityModel.objects.select_for_update().aggregate(m=Max("version"))["m"] or 0) + 1
        AnswerQualityModel.objects.filter(active=True).update(active=False)
        row = AnswerQualityModel.objects.create(
            version=version, algorithm=am.ALGORITHM, features=am.FEATURES, blob=am.dumps(fitted.model),
            n_train=fitted.n_train, n_test=fitted.n_test, auc_test=fitted.auc_test, metrics=metrics,
            reference_p=fitted.reference_p, active=True,
        )
    return row


def _active_model():
    """The active model, re-checked at most once a minute per process."""
    now = time.monotonic()
    if now - _CACHE["checked"] < CACHE_SECONDS:
        return _CACHE["model"]
    row = AnswerQualityModel.objects.filter(active=True).only("version").order_by("-version").first()
    if row is None:
        _CACHE.update(checked=now, version=None, model=None)
    elif row.version != _CACHE["version"]:
        full = AnswerQualityModel.objects.get(pk=row.pk)
        model = am.FittedAnswerModel(am.loads(full.blob), full.reference_p, full.n_train, full.n_test, full.auc_test, full.metrics)
        _one_openmp_thread()  # after loading: scikit-learn's OpenMP runtime is loaded with its modules
        _CACHE.update(checked=now, version=row.version, model=model)
    else:
        _CACHE["checked"] = now
    return _CACHE["model"]


def _one_openmp_thread() -> None:
    """Scoring predicts for a handful of rows at a time; scikit-learn's gradient-boosting
    predictor runs an OpenMP parallel region per tree (200 per prediction). On the 2 shared
    cores, with the web and PostgreSQL busy, every region waited for its threads: profiled at
    ~0.5 s per answer under load (bench/scoring_cost.py --realistic, issue 9 fifth round), where
    one thread takes well under a millisecond. So this process's OpenMP pool is set to one
    thread once, when a model is first loaded (it affects nothing else scoring does: numpy uses
    BLAS threads, not OpenMP)."""
    if _CACHE.get("omp"):
        return
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="openmp")
    except Exception:  # noqa: BLE001 - a missing threadpoolctl only costs speed
        log.warning("answer model: could not limit OpenMP threads", exc_info=True)
    _CACHE["omp"] = True


def answer_model_cache_clear() -> None:
    _CACHE.update(checked=0.0, version=None, model=None)


def answer_features(answer: Answer) -> list[float]:
    """Features of one stored answer from what was known before it (the annotator's recent
    answers on the project, the item's earlier answers, the annotator's posterior).

    One statement: the two answer sets as one ``UNION ALL``, each row carrying the annotator's
    quality row (Beta posterior) as scalar subqueries — scoring pays for it only when a model is
    active (:func:`answer_weight_set`). With no earlier answer at all on the project the
    annotator has no check yet either, so the prior is theirs."""
    rows = _feature_rows(answer)
    mine_rows = sorted((r for r in rows if r["src"] == 0), key=lambda r: r["id"])
    other_rows = sorted((r for r in rows if r["src"] == 1), key=lambda r: r["id"])
    fb = am.FeatureBuilder()
    for r in mine_rows + other_rows:
        fb.record(am.AnswerRecord(annotator=r["annotator_id"], item=r["item_id"], label=r["label"],
                                  at=r["created_at"].timestamp(), duration_ms=r["duration_ms"], signals=r["signals"]))
    q = rows[0] if rows else None
    if q is not None and q["q_alpha"] is not None:
        acc = engine.AnnotatorPosterior(alpha=q["q_alpha"], beta=q["q_beta"], checks=q["q_checks"],
                                        correct=q["q_checks_correct"]).mean
    else:
        acc = engine.default_prior(len(answer.project.labels)).mean
    return fb.features(am.AnswerRecord(
        annotator=answer.annotator_id, item=answer.item_id, label=answer.label, at=answer.created_at.timestamp(),
        duration_ms=answer.duration_ms, signals=answer.signals, annotator_accuracy=acc,
    ))


_FIELDS = ("id", "annotator_id", "item_id", "label", "created_at", "duration_ms", "signals")
_QUALITY = ("q_alpha", "q_beta", "q_checks", "q_checks_correct")


def _feature_rows(answer: Answer) -> list[dict]:
    """The annotator's latest 200 earlier answers on the project (src 0) and the item's earlier
    answers (src 1), each row carrying the annotator's quality row. On PostgreSQL one prepared
    statement (issue 9, fifth round: the ORM's union of two annotated querysets cost more to
    build than to run); elsewhere the ORM's form of the same query."""
    if connection.vendor != "postgresql":
        aq = AnnotatorQuality.objects.filter(project_id=answer.project_id, annotator_id=answer.annotator_id)
        quality = {f"q_{f}": Subquery(aq.values(f)[:1]) for f in ("alpha", "beta", "checks", "checks_correct")}
        cols = (*_FIELDS, *quality)
        mine = (Answer.objects.filter(project_id=answer.project_id, annotator_id=answer.annotator_id, id__lt=answer.pk)
                .annotate(src=Value(0), **quality).order_by("-id").values(*cols, "src")[:200])
        others = (Answer.objects.filter(item_id=answer.item_id, id__lt=answer.pk)
                  .annotate(src=Value(1), **quality).values(*cols, "src"))
        return list(mine.union(others, all=True))
    t, q = Answer._meta.db_table, AnnotatorQuality._meta.db_table
    cols = ", ".join(_FIELDS)
    sql = (f"SELECT r.*, q.alpha, q.beta, q.checks, q.checks_correct FROM ("
           f"(SELECT {cols}, 0 AS src FROM {t} WHERE project_id = %(p)s AND annotator_id = %(a)s AND id < %(x)s "
           "ORDER BY id DESC LIMIT 200) UNION ALL "
           f"(SELECT {cols}, 1 AS src FROM {t} WHERE item_id = %(i)s AND id < %(x)s)) r "
           f"LEFT JOIN {q} q ON q.project_id = %(p)s AND q.annotator_id = %(a)s")
    with prepared_cursor() as c:
        c.execute(sql, {"p": answer.project_id, "a": answer.annotator_id, "x": answer.pk, "i": answer.item_id})
        out = c.fetchall()
    names = (*_FIELDS, "src", *_QUALITY)
    rows = [dict(zip(names, r)) for r in out]
    for r in rows:
        if isinstance(r["signals"], (str, bytes)):
            r["signals"] = json.loads(r["signals"])
    return rows


def answer_weights_set(answers: list[Answer]) -> None:
    """:func:`answer_weight_set` for a batch (the drain's): features per answer as there, one
    prediction for all (scikit-learn's per-call cost paid once; each row's probability is the
    same as alone). A failure leaves that answer at weight 1, as :func:`answer_weight` does."""
    todo = [a for a in answers if a.weight is None]
    if not todo:
        return
    model = _active_model()
    if model is None:
        return
    rows, ok = [], []
    for a in todo:
        try:
            rows.append(answer_features(a))
            ok.append(a)
        except Exception:  # a weight must never stop scoring
            log.exception("answer weight failed for answer %s", a.pk)
            a.weight = 1.0
    if not ok:
        return
    try:
        ps = model.predict(rows)
    except Exception:
        log.exception("answer weights failed for answers %s", [a.pk for a in ok])
        for a in ok:
            a.weight = 1.0
        return
    for a, p in zip(ok, ps):
        a.weight = am.answer_weight_from_p(p, model.reference_p)


def answer_weight(answer: Answer) -> float:
    """Weight in (0, 1] for this answer in the item's acceptance: 1 without a trained model
    (or on any failure to compute it), else ``min(1, P(correct) / median P)``, floored at 0.05."""
    model = _active_model()
    if model is None:
        return 1.0
    try:
        return model.weight(answer_features(answer))
    except Exception:  # a weight must never stop scoring
        log.exception("answer weight failed for answer %s", answer.pk)
        return 1.0


def answer_weight_set(answer: Answer) -> None:
    """Set ``answer.weight`` (not saved: the scoring transaction saves it with ``scored_at``)
    once, when the answer is scored; item decisions then read the stored weights with the
    item's answers instead of recomputing features. No active model: nothing is computed and
    the weight stays null (= 1, today's rule); no statement beyond the active-model check,
    which is cached per process (``CACHE_SECONDS``). Active model: one statement
    (:func:`answer_features`)."""
    if answer.weight is not None or _active_model() is None:
        return
    answer.weight = answer_weight(answer)
