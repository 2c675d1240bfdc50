"""One claim for a set of delivered items (``engine.claim.items_claim``) and the certificate's
combination with the audit (``engine.certificate.certify``: both bounds must hold), including
the case the post-stratified claim was built for: known items easier than the delivered ones."""
from __future__ import annotations

import random

import pytest

from quality.engine import certificate as cert
from quality.engine import post_stratified_claim, stratified_claim
from quality.engine.claim import items_claim
from quality.engine.estimate import SHADOW_DESIGN_EFFECT, DeliveryClaim
from tests.quality.test_engine_poststrata import _world


def test_items_claim_is_the_post_stratified_claim_and_falls_back_to_status_without_scores():
    shadow = [("accepted", 0.99, True)] * 50 + [("accepted", 0.6, i < 18) for i in range(30)]
    delivered = [("accepted", 0.99)] * 10 + [("accepted", 0.6)] * 50
    mine = items_claim(shadow, delivered, confidence=0.95, target=0.9)
    assert mine == post_stratified_claim(shadow, delivered, confidence=0.95, target=0.9)
    # a shadow without a score (a structured task type, or stored before scores were kept): by status only
    unscored = [(st, None, ok) for st, _, ok in shadow] + [("exhausted", None, False)] * 5
    by_status = items_claim(unscored, delivered + [("exhausted", None)] * 3, confidence=0.95, target=0.9)
    assert by_status == stratified_claim(
        {"accepted": [ok for _, _, ok in shadow], "exhausted": [False] * 5}, {"accepted": 60, "exhausted": 3},
        confidence=0.95, target=0.9)
    # a delivered item without a P sits in the lowest cell of its status (the cautious side)
    assert items_claim(shadow, [("accepted", None)] * 60, confidence=0.95, target=0.9) == items_claim(
        shadow, [("accepted", 0.0)] * 60, confidence=0.95, target=0.9)


def _audit(right: int, n: int):
    """A one-stratum audit of n reviewed items, ``right`` of them right."""
    reviewed = [("a", "a")] * right + [("a", "b")] * (n - right)
    return cert.audit_estimates({"a": 1000}, reviewed, ["a", "b"], 0.95, draws=4000)


def _model(k: int, n: int, target: float = 0.9) -> DeliveryClaim:
    return items_claim([("accepted", 0.9, i < k) for i in range(n)], [("accepted", 0.9)] * 100,
                       confidence=0.95, target=target)


def test_certify_reports_the_smaller_bound_and_certifies_only_when_both_clear():
    model = _model(100, 100, target=0.8)  # every shadow right: a high model bound
    alone = cert.certify(model=model, audit=None, target=0.8, confidence=0.95)
    assert (alone.source, alone.bound_from, alone.n) == ("model", "model", 100)
    assert alone.lower == model.lower and alone.certified == (model.lower >= 0.8)

    weak = _audit(35, 50)  # the batch itself is worse than the model says
    both = cert.certify(model=model, audit=weak, target=0.8, confidence=0.95)
    assert both.source == "model+audit" and both.bound_from == "audit"
    assert both.lower == weak.accuracy.lower < model.lower
    assert both.upper == max(weak.accuracy.upper, model.upper)
    assert (both.estimate, both.n) == (weak.accuracy.estimate, 50)
    assert not both.certified and "Both bounds must hold" in both.explanation

    strong = _audit(200, 200)
    binding = cert.certify(model=model, audit=strong, target=0.8, confidence=0.95)
    assert binding.bound_from == "model" and binding.lower == model.lower and binding.n == model.n
    # an audit never raises the bound above the model's (no pooling)
    assert binding.lower <= min(model.lower, strong.accuracy.lower)
    # no shadow outcome: the audit alone; neither: no evidence, no claim
    only = cert.certify(model=_model(0, 0), audit=weak, target=0.8, confidence=0.95)
    assert (only.source, only.lower) == ("audit", weak.accuracy.lower)
    none = cert.certify(model=None, audit=None, target=0.8, confidence=0.95)
    assert (none.estimate, none.lower, none.upper, none.certified) == (None, 0.0, 1.0, False)


def test_pooled_rule_is_kept_only_to_show_why_it_was_rejected():
    """The former rule pools the model's counts with an audit that cannot tell them apart: the
    pooled bound sits above the audit's own, on the strength of the model alone."""
    audit = _audit(46, 50)
    pooled = cert.pooled_if_agreeing(model_correct=97, model_n=100, design_effect=2.0, audit=audit, confidence=0.95)
    assert pooled.source == "model+audit" and pooled.lower > audit.accuracy.lower
    bad = cert.pooled_if_agreeing(model_correct=100, model_n=100, design_effect=2.0, audit=_audit(30, 50), confidence=0.95)
    assert bad.source == "audit" and "outside" in bad.explanation


def _audit_of_world(rng: random.Random, delivered_right: list[bool], size: int):
    picked = rng.sample(range(len(delivered_right)), size)
    reviewed = [("a", "a" if delivered_right[i] else "b") for i in picked]
    return cert.audit_estimates({"a": len(delivered_right)}, reviewed, ["a", "b"], 0.95, draws=2000)


@pytest.mark.parametrize("audit_size", [0, 50])
def test_easy_known_items_make_the_old_certificate_over_claim_but_not_the_new_one(audit_size):
    """Synthetic worlds of ``test_engine_poststrata`` (known items drawn from the easy end): each
    delivered item is right with probability its score. The old certificate (raw by-status shadow
    counts, pooled with an agreeing audit) over-claims in a clear share of worlds without an
    audit; the new one (post-stratified claim for the batch's items, both bounds must hold)
    never does, with or without an audit."""
    rng = random.Random(11)
    over_old = over_new = 0
    gaps = []
    worlds = 40
    for _ in range(worlds):
        shadow, delivered, _ = _world(rng, 700, 150)
        right = [rng.random() < s for _, s in delivered]
        truth = sum(right) / len(right)  # the batch's realised accuracy
        audit = _audit_of_world(rng, right, audit_size) if audit_size else None
        status = stratified_claim({"accepted": [ok for _, _, ok in shadow]}, {"accepted": len(delivered)},
                                  confidence=0.95, target=0.95)
        old = cert.pooled_if_agreeing(model_correct=status.correct, model_n=status.n,
                                      design_effect=SHADOW_DESIGN_EFFECT, audit=audit, confidence=0.95)
        new = cert.certify(model=items_claim(shadow, delivered, confidence=0.95, target=0.95), audit=audit,
                           target=0.95, confidence=0.95)
        over_old += old.lower > truth
        over_new += new.lower > truth
        gaps.append(truth - new.lower)
    if audit_size == 0:
        assert over_old >= worlds // 2  # the known items' easy mix, claimed for the batch (31 of 40)
    else:
        assert over_old > over_new  # an audit of 50 cannot always tell the biased model apart (4 of 40)
    assert over_new == 0
    assert sum(gaps) / len(gaps) < 0.25  # honest, and still far from the useless bound of 0
