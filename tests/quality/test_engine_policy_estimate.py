"""Known-check rate, item choice, claims and calibration. Pure."""
import random

import pytest

from quality.engine import (
    SHADOW_DESIGN_EFFECT,
    AnnotatorPosterior,
    Candidate,
    choose_item,
    clopper_pearson,
    default_prior,
    delivery_claim,
    fit_calibration,
    known_check_rate,
    posterior_update,
    proven,
    stratified_claim,
    wilson,
)


def test_known_check_rate_calibrates_first_then_floor():
    p = default_prior(2)
    assert known_check_rate(p, bar=0.75) == 1.0
    for _ in range(3):
        p = posterior_update(p, True)
    proven = p
    for _ in range(40):
        proven = posterior_update(proven, True)
    borderline = AnnotatorPosterior(15, 5, checks=16, correct=12)
    r_proven = known_check_rate(proven, bar=0.75)
    r_border = known_check_rate(borderline, bar=0.75)
    assert r_proven == pytest.approx(0.1 * (20 / 43) ** 0.5, abs=2e-3)  # floor decayed with 43 checks
    assert r_border > r_proven
    assert 0.1 <= r_border <= 1.0


def test_known_check_floor_decays_with_evidence_but_never_reaches_zero():
    rates = []
    for n in (20, 80, 320, 5000):
        post = AnnotatorPosterior(3 + n, 1, checks=n, correct=n)
        rates.append(known_check_rate(post, bar=0.75))
    assert rates[0] == pytest.approx(0.1, abs=5e-3)
    assert rates[1] == pytest.approx(0.05, abs=2e-3)  # 4x the evidence, half the rate
    assert rates == sorted(rates, reverse=True)
    assert rates[-1] == pytest.approx(0.03)  # the floor of the floor
    # a proven annotator who turns borderline is checked more again
    slipping = AnnotatorPosterior(60, 22, checks=80, correct=57)
    assert known_check_rate(slipping, bar=0.75) > rates[1]


def test_choose_item_prefers_priority_then_in_progress():
    rng = random.Random(0)
    cands = [Candidate("x", 0), Candidate("y", 3), Candidate("z", 1)]
    assert choose_item(cands, rng).item == "y"
    assert choose_item(cands + [Candidate("p", 0, priority=1)], rng).item == "p"
    assert choose_item([], rng) is None
    picks = {choose_item([Candidate(i, 0) for i in range(5)], rng).item for _ in range(50)}
    assert len(picks) > 1  # ties spread out


def test_choose_item_is_the_same_whoever_asks():
    """Worker-aware routing was measured and rejected (issue 4): who asks, the items' posteriors
    and their proven answers must not change the pick; the same seed gives the same item."""
    cands = [Candidate("x", 0), Candidate("y", 3, posterior={"a": 0.6, "b": 0.4}), Candidate("z", 3, posterior={"a": 0.99, "b": 0.01}, proven_answers=2)]
    strong = AnnotatorPosterior(60, 2, checks=58, correct=57)
    weak = AnnotatorPosterior(4, 4, checks=4, correct=2)
    for seed in range(20):
        plain = choose_item(cands, random.Random(seed)).item
        assert plain in ("y", "z")
        for who in (strong, weak):
            assert choose_item(cands, random.Random(seed), asker=who, bar=0.75).item == plain


def test_proven_needs_calibration_and_credible_margin_over_the_bar():
    p = default_prior(2)
    assert not proven(p, bar=0.75)
    for _ in range(2):
        p = posterior_update(p, True)
    assert not proven(p, bar=0.75)  # still calibrating
    for _ in range(20):
        p = posterior_update(p, True)
    assert proven(p, bar=0.75)
    assert not proven(AnnotatorPosterior(15, 5, checks=16, correct=12), bar=0.75)  # borderline


def test_clopper_pearson_known_values():
    lo, hi = clopper_pearson(80, 80, 0.95)
    assert lo == pytest.approx(0.05 ** (1 / 80), rel=1e-6)
    assert hi == 1.0
    assert clopper_pearson(0, 0, 0.95) == (0.0, 1.0)
    lo, hi = clopper_pearson(45, 50, 0.95)
    assert lo < 0.9 < hi
    wlo, whi = wilson(45, 50, 0.95)
    assert wlo < 0.9 < whi


def test_delivery_claim_certifies_only_on_lower_bound():
    c = delivery_claim([True] * 95 + [False] * 5, confidence=0.95, target=0.95)
    assert c.accuracy == pytest.approx(0.95) and c.n == 100 and not c.certified
    c = delivery_claim([True] * 200, confidence=0.95, target=0.95)
    assert c.certified and c.lower >= 0.95
    empty = delivery_claim([], confidence=0.95, target=0.9)
    assert empty.accuracy is None and empty.lower == 0.0 and not empty.certified


def test_stratified_claim_weights_by_delivery_mix():
    shadow = {"accepted": [True] * 50, "exhausted": [True] * 5 + [False] * 5}
    mostly_hard = stratified_claim(shadow, {"accepted": 10, "exhausted": 90}, confidence=0.95, target=0.9)
    mostly_easy = stratified_claim(shadow, {"accepted": 90, "exhausted": 10}, confidence=0.95, target=0.9)
    assert mostly_hard.accuracy == pytest.approx(0.1 * 1 + 0.9 * 0.5)
    assert mostly_hard.lower < mostly_easy.lower
    # no shadow evidence for a delivered stratum: its share counts 0 in the bound
    c = stratified_claim({"accepted": [True] * 50}, {"accepted": 50, "exhausted": 50}, confidence=0.95, target=0.5)
    assert c.lower <= 0.5


def test_calibration_is_monotone_and_shrunk():
    samples = [(0.99, True)] * 3 + [(0.6, False)] * 3 + [(0.7, True)] * 3
    cal = fit_calibration(samples)
    assert cal.fitted
    assert cal.apply(0.99) < 1.0  # 3 items can't claim 100 %
    assert cal.apply(0.5) <= cal.apply(0.7) <= cal.apply(0.99)
    assert not fit_calibration([]).fitted
    assert fit_calibration([]).apply(0.8) == 0.8


def test_design_effect_widens_the_bound():
    outs = [True] * 90 + [False] * 10
    plain = delivery_claim(outs, confidence=0.95, target=0.9)
    wide = delivery_claim(outs, confidence=0.95, target=0.9, design_effect=SHADOW_DESIGN_EFFECT)
    assert SHADOW_DESIGN_EFFECT > 1.0
    assert wide.accuracy == plain.accuracy
    assert wide.lower < plain.lower < 0.9 < plain.upper < wide.upper
    strat = stratified_claim({"accepted": outs}, {"accepted": 10}, confidence=0.95, target=0.9)
    assert strat.lower == pytest.approx(wide.lower)


def test_stratified_bound_is_joint_deterministic_and_cp_for_one_stratum():
    shadow = {"accepted": [True] * 70 + [False] * 2, "exhausted": [True] * 6 + [False] * 3}
    mix = {"accepted": 85, "exhausted": 15}
    a = stratified_claim(shadow, mix, confidence=0.95, target=0.95, design_effect=1.0)
    b = stratified_claim(shadow, mix, confidence=0.95, target=0.95, design_effect=1.0)
    assert a == b
    lo_acc, _ = clopper_pearson(70, 72, 0.95)
    lo_exh, _ = clopper_pearson(6, 9, 0.95)
    assert 0.85 * lo_acc + 0.15 * lo_exh < a.lower < a.accuracy < a.upper
    one = stratified_claim({"accepted": shadow["accepted"]}, {"accepted": 5}, confidence=0.95, target=0.95,
                           design_effect=1.0)
    assert one.lower == pytest.approx(lo_acc)
