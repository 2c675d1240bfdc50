"""Answer-quality model: features (missing signals handled), fitting, versioned storage,
answer_weight, and the Celery beat entry."""
from __future__ import annotations

import random

import pytest
from django.conf import settings

from quality.engine import answer_model as am
from quality.models import AnswerQualityModel
from quality.services import answer_model as svc
from tasks_app.models import Answer, Item
from tests.quality.test_scoring import answer, setup_project, worker


@pytest.fixture(autouse=True)
def _no_cached_model_leaks():
    """Scoring now weighs answers with the active model, cached per process for a minute: a
    model trained here must not outlive its test (the database is flushed, the cache is not)."""
    svc.answer_model_cache_clear()
    yield
    svc.answer_model_cache_clear()


def test_features_handle_missing_signals_and_duration():
    fb = am.FeatureBuilder()
    x = fb.add(am.AnswerRecord(annotator=1, item=1, label="a", at=0, duration_ms=None, signals=None))
    assert len(x) == len(am.FEATURES)
    f = dict(zip(am.FEATURES, x))
    assert f["signals_missing"] == 1.0 and f["log_duration"] == 0.0 and f["item_difficulty"] == 0.5
    x = fb.add(am.AnswerRecord(annotator=1, item=2, label="a", at=10, duration_ms=8000,
                               signals={"pastes": "lots", "blurs": -3}))  # junk values ignored
    f = dict(zip(am.FEATURES, x))
    assert f["paste_count"] == 0.0 and f["focus_changes"] == 0.0 and f["same_streak"] == 1.0


def test_features_streak_session_entropy_and_relative_speed():
    fb = am.FeatureBuilder()
    for i in range(5):
        fb.add(am.AnswerRecord(annotator="u", item=i, label="a", at=i * 10, duration_ms=10_000, signals={}))
    f = dict(zip(am.FEATURES, fb.features(am.AnswerRecord(annotator="u", item=9, label="a", at=50, duration_ms=1000,
                                                         signals={"pastes": 2, "blurs": 4}))))
    assert f["same_streak"] == 5 and f["session_position"] == 5 and f["label_entropy"] == 0.0
    assert f["log_dur_vs_annotator"] < -2 and f["paste_count"] == 2 and f["focus_changes"] == 4
    after_break = dict(zip(am.FEATURES, fb.features(am.AnswerRecord(annotator="u", item=9, label="b", at=50 + 3600))))
    assert after_break["session_position"] == 0 and after_break["same_streak"] == 0


def _synthetic(n, seed, informative=True):
    """Rushed answers (a third of the annotator's pace) are wrong 70 % of the time."""
    rng = random.Random(seed)
    fb = am.FeatureBuilder()
    X, y = [], []
    for i in range(n):
        a = i % 20
        rushed = rng.random() < 0.3
        correct = rng.random() < ((0.3 if rushed else 0.9) if informative else 0.7)
        dur = 3000 if rushed else 9000
        X.append(fb.add(am.AnswerRecord(annotator=a, item=i, label=rng.choice("ab"), at=i, duration_ms=dur, signals={})))
        y.append(correct)
    return X, y


def test_fit_learns_an_informative_behaviour_and_not_noise():
    X, y = _synthetic(1500, 1)
    good = am.fit(X, y, seed=1)
    assert good.auc_test > 0.75
    assert 0 < good.reference_p <= 1
    assert good.metrics["n_test"] == good.n_test
    Xn, yn = _synthetic(1500, 2, informative=False)
    noise = am.fit(Xn, yn, seed=1)
    assert noise.auc_test < 0.62


def test_fit_refuses_too_little_or_one_class():
    with pytest.raises(ValueError):
        am.fit([[0.0] * len(am.FEATURES)] * 50, [True, False] * 25)
    with pytest.raises(ValueError):
        am.fit([[0.0] * len(am.FEATURES)] * 300, [True] * 300)


def test_weight_from_p_is_in_0_1():
    assert am.answer_weight_from_p(0.9, 0.8) == 1.0
    assert am.answer_weight_from_p(0.4, 0.8) == pytest.approx(0.5)
    assert am.answer_weight_from_p(0.0, 0.8) == am.MIN_WEIGHT
    assert am.answer_weight_from_p(0.5, 0.0) == 1.0


def _answer_knowns_rushed_or_careful(project, users, knowns, rng):
    """Every user answers every known item, 35 % of the time rushed (fast, blurred, right 35 %
    of the time), else careful (slow, right 92 %): the behaviour the answer model must learn."""
    for u in users:
        for k in knowns:
            rushed = rng.random() < 0.35
            wrong = "a" if k.known_label == "b" else "b"
            label = k.known_label if rng.random() < (0.35 if rushed else 0.92) else wrong
            a = answer(project, u, k, label)
            Answer.objects.filter(pk=a.pk).update(
                duration_ms=1500 if rushed else 9000, signals={"pastes": 0, "blurs": 3 if rushed else 0}
            )


@pytest.mark.django_db(transaction=True)
def test_train_store_version_and_weigh_answers():
    project = setup_project(n_items=4, n_known=60)
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    rng = random.Random(3)
    users = [worker(project, f"m{i}") for i in range(6)]
    assert svc.answer_model_train() is None  # no outcomes yet: nothing to learn, nothing stored
    _answer_knowns_rushed_or_careful(project, users, knowns, rng)
    svc.answer_model_cache_clear()
    item = Item.objects.filter(project=project, is_known=False).first()
    careful = answer(project, users[0], item, "a")
    assert svc.answer_weight(careful) == 1.0  # no model yet
    row = svc.answer_model_train()
    assert row is not None and row.version == 1 and row.active and row.n_train + row.n_test >= 300
    assert row.auc_test > 0.6 and "auc_test_annotator_accuracy_only" in row.metrics
    row2 = svc.answer_model_train(seed=1)
    assert row2.version == 2 and not AnswerQualityModel.objects.get(version=1).active
    svc.answer_model_cache_clear()
    Answer.objects.filter(pk=careful.pk).update(duration_ms=9000, signals={"pastes": 0, "blurs": 0})
    rushed = answer(project, users[1], item, "b")
    Answer.objects.filter(pk=rushed.pk).update(duration_ms=1200, signals={"pastes": 0, "blurs": 3})
    w_careful = svc.answer_weight(Answer.objects.select_related("project").get(pk=careful.pk))
    w_rushed = svc.answer_weight(Answer.objects.select_related("project").get(pk=rushed.pk))
    assert 0 < w_rushed < w_careful <= 1
    missing = Answer.objects.select_related("project").get(pk=rushed.pk)
    missing.signals, missing.duration_ms = {}, None  # a page that reported nothing still gets a weight
    assert 0 < svc.answer_weight(missing) <= 1


def test_retrain_and_audit_are_on_the_beat_schedule():
    tasks = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"quality.answer_model_retrain", "quality.audit_known_answers"} <= tasks
    from quality import tasks as qt

    assert qt.answer_model_retrain.name == "quality.answer_model_retrain"


@pytest.mark.django_db(transaction=True)
def test_scoring_stores_the_weight_once_and_acceptance_reads_it():
    """Issue 4: with an active model, scoring a regular answer stores its weight (one statement
    for the features) and the item's decision weighs the answers by it; without one, nothing is
    computed and the weight stays null (= 1)."""
    import uuid
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tasks_app import services as task_services
    from tasks_app.models import Lease

    project = setup_project(n_items=4, n_known=60, max_answers=5, target=0.9)
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    rng = random.Random(5)
    users = [worker(project, f"s{i}") for i in range(6)]
    svc.answer_model_cache_clear()
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    plain = answer(project, users[0], regular[0], "a")
    assert Answer.objects.get(pk=plain.pk).weight is None  # no model: nothing computed
    _answer_knowns_rushed_or_careful(project, users, knowns, rng)
    assert svc.answer_model_train() is not None
    svc.answer_model_cache_clear()

    def submit(user, item, label, rushed):
        lease = Lease.objects.create(item=item, project=project, annotator=user, expires_at=timezone.now() + timedelta(minutes=5))
        Item.objects.filter(pk=item.pk).update(assigned=item.assigned + 1)
        a, _ = task_services.answer_submit(annotator=user, lease_id=lease.pk, label=label, client_key=uuid.uuid4().hex,
                                           duration_ms=1200 if rushed else 9000,
                                           signals={"pastes": 0, "blurs": 3 if rushed else 0})
        return Answer.objects.get(pk=a.pk)

    item = regular[1]
    first = submit(users[1], item, "a", rushed=True)
    item.refresh_from_db()
    second = submit(users[2], item, "a", rushed=True)
    assert first.weight is not None and second.weight is not None and 0 < first.weight < 1
    fresh = Answer.objects.select_related("project").get(pk=second.pk)
    fresh.weight = None
    with CaptureQueriesContext(connection) as ctx:
        assert svc.answer_weight(fresh) == pytest.approx(second.weight)
    assert len(ctx.captured_queries) == 1  # the features, in one statement (the model is cached)
    # the decision read the stored weights: the same call on the stored rows gives the stored outcome
    from quality import engine
    from quality.services import model as model_services

    item.refresh_from_db()
    state = model_services.model_state(project)
    rows = model_services.confusions(project, [users[1].pk, users[2].pk])
    confs = [(a.label, model_services.confusion_of(rows[a.annotator_id], project)) for a in (first, second)]
    from quality.engine.em import calibrate_posterior

    def stored_p(weights):
        dec, post = engine.decide_confusion(project.labels, state.log_prior, confs, tau=1.0,
                                            target=project.accuracy_target, cap=project.max_answers, weights=weights)
        return dec, calibrate_posterior(post, state.log_prior, state.tau, state.eps)[dec.label]

    weighted, p_weighted = stored_p([first.weight, second.weight])
    unweighted, p_unweighted = stored_p(None)
    assert weighted.status == "more" and item.status == Item.Status.OPEN  # 2 x w < 2 agreeing answers
    assert item.p_correct == pytest.approx(p_weighted, abs=1e-6)
    assert abs(p_weighted - p_unweighted) > 1e-3  # the stored P is the weighted one, not today's
