"""The pure math of audits and certificates: sample sizes, allocation, elusion, per-class
metrics, stratified audit estimates, and how the model and the audit are combined."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from quality.engine import certificate as cert
from quality.engine import sampling


def test_sample_size_matches_wilson_and_is_the_smallest():
    r = sampling.sample_size(margin=0.02, confidence=0.95, expected_accuracy=0.95)
    assert r.n_wald == math.ceil(1.959964**2 * 0.95 * 0.05 / 0.02**2)  # 457
    assert sampling.wilson_half_width(0.95, r.n, 0.95) <= 0.02
    assert sampling.wilson_half_width(0.95, r.n - 1, 0.95) > 0.02
    assert r.n == r.n_infinite  # no population given


def test_sample_size_near_one_is_not_wald():
    """At p = 0.99 with margin 0.005 Wald's n gives a Wilson interval wider than asked."""
    r = sampling.sample_size(margin=0.005, confidence=0.95, expected_accuracy=0.99)
    assert sampling.wilson_half_width(0.99, r.n_wald, 0.95) > 0.005
    assert r.n > r.n_wald


def test_sample_size_finite_population():
    big = sampling.sample_size(margin=0.03, confidence=0.95, expected_accuracy=0.9)
    small = sampling.sample_size(margin=0.03, confidence=0.95, expected_accuracy=0.9, population=500)
    assert small.n < big.n and small.n <= 500
    n0 = big.n_infinite
    assert small.n == math.ceil(n0 / (1 + (n0 - 1) / 500))
    assert sampling.sample_size(margin=0.03, confidence=0.95, expected_accuracy=0.9, population=10).n <= 10


@pytest.mark.parametrize("kwargs", [
    dict(margin=0, confidence=0.95, expected_accuracy=0.9),
    dict(margin=0.05, confidence=1.0, expected_accuracy=0.9),
    dict(margin=0.05, confidence=0.95, expected_accuracy=1.0),
])
def test_sample_size_refuses_nonsense(kwargs):
    with pytest.raises(ValueError):
        sampling.sample_size(**kwargs)


def test_allocation_is_proportional_with_a_floor_for_rare_classes():
    strata = {"common": 9000, "mid": 950, "rare": 50}
    alloc = sampling.allocate(400, strata, min_per_stratum=30)
    assert sum(alloc.values()) == 400
    assert alloc["rare"] >= 30  # proportional would give 2
    assert alloc["common"] > alloc["mid"] > 0
    tiny = sampling.allocate(400, {"a": 5, "b": 1000}, min_per_stratum=30)
    assert tiny["a"] == 5 and sum(tiny.values()) == 400
    assert sampling.allocate(10_000, {"a": 5, "b": 7}) == {"a": 5, "b": 7}


def test_elusion_only_for_rare_classes():
    sizes = sampling.elusion_sizes({"neg": 9800, "pos": 200}, margin=0.05, confidence=0.95)
    assert set(sizes) == {"pos"} and 0 < sizes["pos"] <= 9800
    assert sampling.elusion_sizes({"a": 500, "b": 500}, margin=0.05, confidence=0.95) == {}


def test_class_metrics_counts_and_bounds():
    pairs = [("cat", "cat")] * 8 + [("cat", "dog")] * 2 + [("dog", "dog")] * 9 + [("dog", "cat")]
    m = {e["label"]: e for e in cert.class_metrics(pairs, ["cat", "dog"], 0.95)}
    assert m["cat"]["precision"]["estimate"] == pytest.approx(0.8) and m["cat"]["precision"]["n"] == 10
    assert m["cat"]["recall"]["estimate"] == pytest.approx(8 / 9) and m["cat"]["recall"]["n"] == 9
    for e in m.values():
        for k in ("precision", "recall"):
            assert e[k]["lower"] <= e[k]["estimate"] <= e[k]["upper"]


def _simulate(truth_acc: dict[str, float], strata: dict[str, int], alloc: dict[str, int], labels, rng):
    """Reviewed samples when items of stratum h are truly h with probability truth_acc[h]."""
    out = []
    for h, n in alloc.items():
        for _ in range(n):
            if rng.random() < truth_acc[h]:
                out.append((h, h))
            else:
                out.append((h, rng.choice([lab for lab in labels if lab != h])))
    return out


def test_audit_estimate_covers_the_truth_and_weights_strata():
    labels = ["neg", "pos"]
    strata = {"neg": 9000, "pos": 1000}
    truth = {"neg": 0.99, "pos": 0.80}
    true_acc = (9000 * 0.99 + 1000 * 0.80) / 10000  # 0.971
    rng = random.Random(1)
    covered = 0
    for _ in range(20):
        reviewed = _simulate(truth, strata, {"neg": 200, "pos": 200}, labels, rng)
        est = cert.audit_estimates(strata, reviewed, labels, 0.95, draws=4000)
        # the stratified estimate is near the weighted truth, not the raw sample mean (~0.895)
        assert abs(est.accuracy.estimate - true_acc) < 0.03
        covered += est.accuracy.lower <= true_acc
    assert covered >= 17  # one-sided 95 % bound: about 19 of 20


def test_audit_recall_sees_what_the_negatives_hide():
    """Items delivered 'neg' that are truly 'pos' lower pos's recall (the elusion rate)."""
    labels = ["neg", "pos"]
    strata = {"neg": 9500, "pos": 500}
    reviewed = [("pos", "pos")] * 50 + [("neg", "neg")] * 190 + [("neg", "pos")] * 10
    est = cert.audit_estimates(strata, reviewed, labels, 0.95, draws=4000)
    pos = next(e for e in est.per_class if e["label"] == "pos")
    # truth ~ 500 / (500 + 9500 * 0.05) = 0.51
    assert 0.35 < pos["recall"]["estimate"] < 0.7
    assert pos["elusion_rate"]["estimate"] == pytest.approx(10.5 / 201, abs=0.02)
    assert pos["rare"] is True and pos["precision"]["estimate"] > 0.95


def test_certify_takes_the_audit_bound_when_it_is_the_smaller():
    """Both bounds must hold (``certify``); the pooled rule is only kept to show why it went
    (tests/quality/test_engine_certificate_claim.py)."""
    from quality.engine.claim import items_claim

    labels = ["a", "b"]
    strata = {"a": 500, "b": 500}
    good = [("a", "a")] * 95 + [("a", "b")] * 5 + [("b", "b")] * 95 + [("b", "a")] * 5
    audit = cert.audit_estimates(strata, good, labels, 0.95, draws=4000)
    model = items_claim([("accepted", 0.9, i % 20 != 0) for i in range(100)], [("accepted", 0.9)] * 1000,
                        confidence=0.95, target=0.9)
    model_only = cert.certify(model=model, audit=None, target=0.9, confidence=0.95)
    assert model_only.source == "model" and model_only.lower == model.lower
    both = cert.certify(model=model, audit=audit, target=0.9, confidence=0.95)
    assert both.source == "model+audit"
    assert both.lower == min(model.lower, audit.accuracy.lower)  # never tighter than either source
    bad_audit = cert.audit_estimates(strata, [("a", "b")] * 30 + [("a", "a")] * 70, labels, 0.95, draws=4000)
    bad = cert.certify(model=model, audit=bad_audit, target=0.9, confidence=0.95)
    assert bad.bound_from == "audit" and bad.estimate < 0.9 and not bad.certified


def test_audit_estimates_are_deterministic():
    strata = {"a": 100, "b": 50}
    rev = [("a", "a")] * 20 + [("b", "a")] * 3 + [("b", "b")] * 17
    one = cert.audit_estimates(strata, rev, ["a", "b"], 0.9)
    two = cert.audit_estimates(strata, rev, ["a", "b"], 0.9)
    assert one.accuracy == two.accuracy
    assert np.isfinite(one.n_eff)
