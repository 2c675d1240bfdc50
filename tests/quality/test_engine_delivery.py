"""Shadow decisions and the claim + calibration built from them. Pure."""
import pytest

from quality.engine import ShadowOutcome, claim_from_shadow, shadow_decision


def test_shadow_decision_stops_where_the_real_procedure_would():
    answers = [("a", 0.9), ("a", 0.9), ("a", 0.9), ("b", 0.9), ("b", 0.9)]
    d = shadow_decision(["a", "b"], answers, target=0.95, cap=5)
    assert d.status == "accepted" and d.label == "a"
    d = shadow_decision(["a", "b"], [("a", 0.8), ("b", 0.8)], target=0.95, cap=5)
    assert d.status == "exhausted"  # answers ran out before a decision
    assert shadow_decision(["a", "b"], [], target=0.95, cap=5) is None


def test_claim_from_shadow_calibrates_per_status():
    shadow = [ShadowOutcome("accepted", 0.97, True)] * 60 + [ShadowOutcome("accepted", 0.96, False)] * 2
    shadow += [ShadowOutcome("exhausted", 0.7, True)] * 6 + [ShadowOutcome("exhausted", 0.6, False)] * 4
    sc = claim_from_shadow(shadow, {"accepted": 900, "exhausted": 100}, confidence=0.95, target=0.95)
    assert sc.claim.n == 72
    assert sc.claim.accuracy == pytest.approx(0.9 * 60 / 62 + 0.1 * 0.6)
    assert sc.claim.lower < sc.claim.accuracy
    assert not sc.claim.certified
    assert sc.p_correct("exhausted", 0.65) < sc.p_correct("accepted", 0.97) < 1.0
    # unknown status falls back to the overall map; no shadow at all: model p unchanged
    assert 0 < sc.p_correct("other", 0.9) < 1
    empty = claim_from_shadow([], {"accepted": 10}, confidence=0.95, target=0.95)
    assert empty.p_correct("accepted", 0.8) == 0.8 and empty.claim.lower == 0.0
