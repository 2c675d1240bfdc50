"""Per-class annotator model, periodic re-estimate (semi-supervised Dawid-Skene) and the
evidence temperature, on synthetic crowds generated here."""
from __future__ import annotations

import random

import numpy as np
import pytest

from quality import engine
from quality.engine.confusion import (
    Confusion,
    confusion_prior,
    item_log_posterior,
    prior_with_history,
)
from quality.engine.em import dawid_skene, fit_tempering, refit, refresh_due

LABELS = ("a", "b", "c")


def test_prior_rows_and_history():
    post = engine.prior_from_qualifier(9, 10, 3)
    c = confusion_prior(LABELS, post)
    assert c.accuracy() == pytest.approx(post.mean, abs=1e-9)
    stronger = prior_with_history(post, 40, 40)
    assert stronger.mean > post.mean
    # another project's record is down-weighted and capped
    assert stronger.alpha + stronger.beta - (post.alpha + post.beta) <= 8.0 + 1e-9
    with pytest.raises(ValueError):
        prior_with_history(post, 5, 4)


def test_observe_without_and_json_roundtrip():
    c = confusion_prior(LABELS, engine.default_prior(3))
    before = c.loglik("b")
    c.observe("a", "b")
    assert c.loglik("b")[0] > before[0]  # "b" given when truth is "a" became likelier
    assert c.without("a", "b").loglik("b") == pytest.approx(before)
    c.observe({"a": 0.5, "c": 0.5}, "c")
    again = Confusion.from_json(c.to_json())
    assert again.loglik("c") == pytest.approx(c.loglik("c"), abs=1e-5)
    grown = again.relabel(("a", "b", "c", "d"))
    assert len(grown.loglik("d")) == 4


def test_tempering_and_revoked_answers():
    good = Confusion(("a", "b"), [[9, 1], [1, 9]])
    full = item_log_posterior([np.log(0.5)] * 2, [good.loglik("a")] * 2, 1.0)
    half = item_log_posterior([np.log(0.5)] * 2, [good.loglik("a")] * 2, 0.5)
    assert np.exp(full[0]) > np.exp(half[0]) > 0.5
    dec, post = engine.decide_confusion(("a", "b"), [np.log(0.5)] * 2, [("a", good), ("b", None)],
                                        tau=1.0, target=0.95, cap=3)
    assert dec.status == "more" and post["a"] == pytest.approx(0.9)  # the revoked answer weighs nothing


def swapper_crowd(seed=3, n_items=400):
    """Two good workers, four who swap a and b systematically (informative, but MV is fooled
    when they outnumber the good ones on an item)."""
    rng = random.Random(seed)
    gold, answers = {}, []
    for i in range(n_items):
        truth = rng.choice(LABELS)
        gold[f"i{i}"] = truth
        for w in range(6):
            if w < 2:
                lab = truth if rng.random() < 0.9 else rng.choice(LABELS)
            else:
                swap = {"a": "b", "b": "a", "c": "c"}[truth]
                lab = swap if rng.random() < 0.9 else rng.choice(LABELS)
            answers.append((f"i{i}", f"w{w}", lab))
    return answers, gold


def test_em_learns_confusions_that_majority_vote_misses():
    answers, gold = swapper_crowd()
    known = dict(sorted(gold.items())[:40])
    prior = np.array(confusion_prior(LABELS, engine.default_prior(3)).counts)
    res = dawid_skene(LABELS, answers, known, {}, prior, iters=50)
    pos = {it: j for j, it in enumerate(res.items)}
    rest = [i for i in gold if i not in known]
    em_acc = np.mean([LABELS[int(res.post[pos[i]].argmax())] == gold[i] for i in rest])
    votes = {}
    for it, _, lab in answers:
        votes.setdefault(it, []).append(lab)
    mv_acc = np.mean([max(LABELS, key=votes[i].count) == gold[i] for i in rest])
    assert em_acc > 0.9 > mv_acc
    swapper = res.counts["w3"]
    assert swapper[0][1] > swapper[0][0]  # learnt: truth a -> answers b


def correlated(seed, hard_share, n_items=500):
    rng = random.Random(seed)
    gold, answers = {}, []
    for i in range(n_items):
        truth = rng.choice(LABELS)
        gold[f"i{i}"] = truth
        hard = rng.random() < hard_share
        trap = rng.choice([x for x in LABELS if x != truth])
        for w in rng.sample(range(30), 6):
            if hard:
                lab = truth if rng.random() < 0.4 else trap
            else:
                lab = truth if rng.random() < 0.85 else rng.choice([x for x in LABELS if x != truth])
            answers.append((f"i{i}", f"w{w}", lab))
    return answers, gold


def test_temperature_falls_when_errors_correlate():
    prior = np.array(confusion_prior(LABELS, engine.default_prior(3)).counts)
    taus = []
    for share in (0.0, 0.3):
        answers, gold = correlated(5, share)
        known = dict(sorted(gold.items())[:100])
        used = {it: [(w, lab) for i2, w, lab in answers if i2 == it][:4] for it in known}
        taus.append(refit(LABELS, answers, known, used, {}, prior).tau)
    assert taus[1] < taus[0]
    assert fit_tempering([]) == (1.0, 0.0)


def test_refresh_schedule_is_geometric():
    assert not refresh_due(50, 0) and refresh_due(100, 0)
    assert not refresh_due(1100, 1000) and refresh_due(1250, 1000)
    n, last, refreshes = 0, 0, 0
    for n in range(1, 100_001):
        if refresh_due(n, last):
            last, refreshes = n, refreshes + 1
    assert refreshes < 40  # O(log n) re-estimates: amortised O(1) per answer


def test_calibration_identity_and_hard_item_ceiling():
    from quality.engine.em import calibrate_posterior, fit_tempering

    lp = [np.log(0.5), np.log(0.5)]
    post = {"a": 0.99, "b": 0.01}
    same = calibrate_posterior(post, lp, 1.0, 0.0)
    assert same["a"] == pytest.approx(0.99)
    capped = calibrate_posterior(post, lp, 1.0, 0.2)
    assert capped["a"] == pytest.approx(0.8 * 0.99 + 0.2 * 0.5)
    assert sum(capped.values()) == pytest.approx(1.0)
    # confident crowds that are wrong on a fifth of the items: the fit finds a hard-item share
    rng = random.Random(1)
    samples = []
    for _ in range(300):
        y = rng.randrange(2)
        shown = y if rng.random() < 0.8 else 1 - y
        ev = np.array([6.0, 0.0]) if shown == 0 else np.array([0.0, 6.0])
        samples.append((np.log(np.array([0.5, 0.5])), ev, y))
    tau, eps = fit_tempering(samples)
    assert eps > 0.1 or tau < 0.5


def test_delivered_label_is_the_map_label_with_its_calibrated_probability():
    """The delivered label is argmax(log prior + evidence); tempering only calibrates its P.
    Here a fitted tau = 0.3 would hand the label to the commoner class (prior 0.8) although the
    answers favour the other one: ``delivered_label`` keeps the answers' label."""
    from quality.engine.em import delivered_label, tempered_distribution

    labels = ["a", "b"]
    lp = np.log(np.array([0.8, 0.2]))
    ev = np.array([0.0, 2.0])  # log odds b:a = -1.386 + 2 > 0 at tau = 1, < 0 at tau = 0.3
    assert tempered_distribution(lp, ev, 0.3, 0.0).argmax() == 0
    lab, p = delivered_label(labels, lp, ev, 0.3, 0.05)
    assert lab == "b"
    assert p == pytest.approx(float(tempered_distribution(lp, ev, 0.3, 0.05)[1]))
    assert p < 0.5  # the honest calibrated P of the label shown, not the MAP's
    # untempered: the label and P are the posterior's own
    lab1, p1 = delivered_label(labels, lp, ev, 1.0, 0.0)
    post = np.exp(lp + ev) / np.exp(lp + ev).sum()
    assert lab1 == "b" and p1 == pytest.approx(float(post[1]))
    # exact tie: broken by label text, deterministic
    assert delivered_label(labels, np.log([0.5, 0.5]), np.zeros(2), 0.5, 0.0)[0] == "a"


def test_dawid_skene_weighs_answers_as_the_acceptance_does():
    """Weights 1 are the unweighted EM exactly; weight 0 is the answer left out; a weight w
    enters the evidence as w x its log-likelihood (the tempered likelihood decide_confusion uses)."""
    labels = ["a", "b"]
    rng = random.Random(3)
    rows = []
    for i in range(40):
        truth = "a" if i % 3 else "b"
        for w in range(4):
            good = rng.random() < (0.9 if w < 3 else 0.55)
            rows.append((f"i{i}", f"w{w}", truth if good else ("b" if truth == "a" else "a")))
    known = {"i0": "b", "i1": "a"}
    prior = np.ones((2, 2)) + np.eye(2)
    plain = dawid_skene(labels, rows, known, {}, prior, iters=40)
    ones = dawid_skene(labels, [r + (1.0,) for r in rows], known, {}, prior, iters=40)
    nones = dawid_skene(labels, [r + (None,) for r in rows], known, {}, prior, iters=40)
    assert np.allclose(plain.post, ones.post) and np.allclose(plain.post, nones.post)
    # weight 0 on worker w3's answers == w3 absent
    zero = dawid_skene(labels, [r + (0.0 if r[1] == "w3" else 1.0,) for r in rows], known, {}, prior, iters=40)
    absent = dawid_skene(labels, [r for r in rows if r[1] != "w3"], known, {}, prior, iters=40)
    assert zero.items == absent.items and np.allclose(zero.post, absent.post) and "w3" not in zero.counts
    # half weight: half the evidence per answer and half the soft counts in the rows
    half = dawid_skene(labels, [r + (0.5,) for r in rows], known, {}, prior, iters=1)
    full = dawid_skene(labels, rows, known, {}, prior, iters=1)
    assert (half.counts["w0"] - prior).sum() == pytest.approx(0.5 * (full.counts["w0"] - prior).sum())
    assert np.abs(half.evidence).sum() < np.abs(full.evidence).sum()
