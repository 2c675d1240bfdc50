"""SPRT gating: stated error rates by simulation, graded decisions, agreement between the
vectorised simulation and gate_sprt. Pure (no database)."""
import random

import pytest

from quality.engine import AnnotatorPosterior
from quality.engine.sprt import ALPHA_PAUSE, ALPHA_REVOKE, BETA, design_for, gate_sprt, simulate_error_rates, sprt_step

BARS = [(0.75, 2), (0.667, 3), (0.625, 4), (0.9, 2)]


@pytest.mark.parametrize("bar,n_labels", BARS)
def test_good_annotators_are_rarely_paused_or_revoked(bar, n_labels):
    d = design_for(bar, n_labels)
    r = simulate_error_rates(d, d.p0, n=10_000, seed=11)
    assert r.paused <= ALPHA_PAUSE, r
    assert r.revoked <= ALPHA_REVOKE, r


@pytest.mark.parametrize("bar,n_labels", BARS)
def test_bad_annotators_are_caught(bar, n_labels):
    d = design_for(bar, n_labels)
    r = simulate_error_rates(d, d.p1, n=10_000, seed=12)
    assert 1 - r.paused <= BETA, r
    assert 1 - r.revoked <= BETA, r
    assert r.mean_checks_to_pause < r.mean_checks_to_revoke


def test_the_simulation_can_fail():
    """A design with a far too narrow indifference zone misses bad annotators in a short
    horizon: the bound is a measured property, not a tautology."""
    d = design_for(0.75, 2)
    r = simulate_error_rates(d, d.p1, n=2000, horizon=20, seed=3)
    assert 1 - r.revoked > BETA
    r = simulate_error_rates(d, 0.80, n=2000, seed=3)  # inside the indifference zone: no promise
    assert r.paused > ALPHA_PAUSE


def _walk(design, outcomes):
    """gate_sprt applied check by check, the way the scoring service does."""
    llr, standing, pauses, events = 0.0, "active", 0, []
    correct = 0
    for t, ok in enumerate(outcomes, 1):
        llr = sprt_step(design, llr, ok)
        correct += ok
        post = AnnotatorPosterior(1 + correct, 1 + t - correct, t, correct)
        d = gate_sprt(design, llr=llr, standing=standing, pauses=pauses, post=post)
        if d.changed:
            events.append((t, d.standing))
        standing, pauses = d.standing, d.pauses
        if standing == "paused":
            standing = "active"  # back from the tutorial at once
        if standing == "revoked":
            break
    return events


def test_vectorised_simulation_matches_gate_sprt_path_by_path():
    d = design_for(0.75, 2)
    rng = random.Random(5)
    n, paused, revoked = 400, 0, 0
    for _ in range(n):
        acc = rng.choice([0.6, 0.7, 0.8])
        ev = _walk(d, [rng.random() < acc for _ in range(200)])
        paused += any(s == "paused" for _, s in ev)
        revoked += any(s == "revoked" for _, s in ev)
    # same thresholds in numpy: rates for the same mixture agree within sampling error
    import numpy as np  # noqa: F401

    sims = [simulate_error_rates(d, a, n=4000, horizon=200, seed=9) for a in (0.6, 0.7, 0.8)]
    exp_p = sum(s.paused for s in sims) / 3
    exp_r = sum(s.revoked for s in sims) / 3
    assert abs(paused / n - exp_p) < 0.08 and abs(revoked / n - exp_r) < 0.08


def test_graded_order_warn_pause_then_revoke_and_revoked_is_final():
    d = design_for(0.75, 2)
    ev = _walk(d, [False] * 30)
    # back from the tutorial the walk still stands above the warning threshold: warned, then revoked
    assert [s for _, s in ev] == ["warned", "paused", "warned", "revoked"], ev
    assert ev[-1][0] <= 8
    post = AnnotatorPosterior(2, 30, 30, 1)
    again = gate_sprt(d, llr=-10, standing="revoked", pauses=1, post=post)
    assert again.standing == "revoked" and not again.changed


def test_a_good_record_keeps_active_and_warning_lifts():
    d = design_for(0.75, 2)
    assert _walk(d, [True] * 100) == []
    ev = _walk(d, [False, False, False] + [True] * 20)
    assert [s for _, s in ev] == ["warned", "active"]


def test_paused_stays_paused_until_the_tutorial_and_no_second_pause():
    d = design_for(0.75, 2)
    post = AnnotatorPosterior(5, 10, 13, 4)
    stay = gate_sprt(d, llr=-5.0, standing="paused", pauses=1, post=post)
    assert stay.standing == "paused" and not stay.changed
    # after a pause, crossing the pause threshold again only warns; the revoke threshold revokes
    back = gate_sprt(d, llr=d.pause_at + 0.1, standing="active", pauses=1, post=post)
    assert back.standing == "warned"
    gone = gate_sprt(d, llr=d.revoke_at, standing="warned", pauses=1, post=post)
    assert gone.standing == "revoked" and gone.changed


def test_floor_limits_banked_credit():
    d = design_for(0.75, 2)
    llr = 0.0
    for _ in range(1000):
        llr = sprt_step(d, llr, True)
    assert llr == pytest.approx(d.floor)
    n = 0
    while llr < d.pause_at:
        llr = sprt_step(d, llr, False)
        n += 1
    assert n <= 12  # caught within a dozen wrong checks, however long the good record


def test_decision_carries_evidence_for_an_appeal():
    d = design_for(0.75, 2)
    post = AnnotatorPosterior(4, 6, 8, 3)
    dec = gate_sprt(d, llr=d.pause_at + 0.01, standing="warned", pauses=0, post=post)
    ev = dec.evidence
    assert dec.standing == "paused" and dec.pauses == 1
    assert ev["checks"] == 8 and ev["correct"] == 3 and ev["model"].startswith("sprt-1")
    assert ev["interval"][0] < ev["accuracy"] < ev["interval"][1]
    assert ev["wilson_95"][0] < 3 / 8 < ev["wilson_95"][1]
    assert "3 of 8" in dec.reason and "tutorial" in dec.reason


def test_design_validation():
    with pytest.raises(ValueError):
        design_for(0.4, 2)  # below chance
    with pytest.raises(ValueError):
        gate_sprt(design_for(0.75, 2), llr=0, standing="bogus", pauses=0, post=AnnotatorPosterior(1, 1))
    d = design_for(0.9, 2)
    assert d.delta == pytest.approx(0.05) and d.horizon > 300


def test_gate_step_for_the_replay_matches_the_walk():
    from quality.engine.sprt import WalkState, gate_step

    d = design_for(0.75, 2)
    state, seen = WalkState(), []
    for t in range(1, 31):
        state, dec = gate_step(d, state, False, AnnotatorPosterior(1, 1 + t, t, 0))
        if dec.changed:
            seen.append(dec.standing)
        if state.standing == "revoked":
            break
    assert seen == [s for _, s in _walk(d, [False] * 30)]
