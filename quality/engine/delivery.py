"""One call from shadow-delivery outcomes to what a delivery shows: the claim and each item's
calibrated P(correct). The replay and the Django delivery selector both call this, so the
numbers a customer sees are computed one way.

Shadow delivery of a known item: its answers in arrival order through ``decide_item`` (each
annotator's accuracy leaving this item's own check out) until the decision is not 'more' (or the
answers run out: then its status is 'exhausted'); record (status, model p, label == known label).
:func:`shadow_decision` does that for a finished list of answers.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .acceptance import ItemDecision, decide_confusion, decide_item
from .calibration import Calibration, fit_calibration
from .em import delivered_label
from .estimate import DeliveryClaim, stratified_claim


@dataclass(frozen=True)
class ShadowOutcome:
    status: str  # the shadow decision's status: 'accepted' | 'exhausted'
    p_model: float  # the one-coin model probability at the decision
    correct: bool  # delivered label == known label


@dataclass(frozen=True)
class ShadowClaim:
    claim: DeliveryClaim
    overall: Calibration
    by_status: Mapping[str, Calibration] = field(default_factory=dict)

    def p_correct(self, status: str, p_model: float) -> float:
        """Calibrated P(label correct) for a delivered item with this decision status."""
        cal = self.by_status.get(status)
        if cal is None or not cal.fitted:
            cal = self.overall
        return cal.apply(p_model) if cal.fitted else float(p_model)


def shadow_decision(
    labels: Sequence[str], answers: Sequence[tuple[str, float]], *, target: float, cap: int
) -> ItemDecision | None:
    """The decision the acceptance procedure reaches on answers taken in order (None if none)."""
    decision = None
    for n in range(1, len(answers) + 1):
        decision = decide_item(labels, answers[:n], target=target, cap=cap)
        if decision.status != "more":
            return decision
    if decision is None:
        return None
    return ItemDecision("exhausted", decision.label, decision.p_correct)


def claim_from_shadow(
    shadow: Sequence[ShadowOutcome], delivered: Mapping[str, int], *, confidence: float, target: float
) -> ShadowClaim:
    """Claim (stratified by status, see :func:`stratified_claim`) + calibration per status.

    ``delivered`` counts the delivery's items per decision status. Calibration per status
    shrinks toward the project's overall shadow accuracy.
    """
    overall = fit_calibration([(s.p_model, s.correct) for s in shadow])
    groups: dict[str, list[ShadowOutcome]] = {}
    for s in shadow:
        groups.setdefault(s.status, []).append(s)
    by_status = {
        st: fit_calibration([(s.p_model, s.correct) for s in v], prior_mean=overall.overall)
        for st, v in sorted(groups.items())
    }
    claim = stratified_claim(
        {st: [s.correct for s in v] for st, v in groups.items()}, delivered, confidence=confidence, target=target
    )
    return ShadowClaim(claim=claim, overall=overall, by_status=by_status)


def shadow_run(
    labels: Sequence[str],
    log_prior: Sequence[float],
    answers: Sequence[tuple[str, object]],
    *,
    target: float,
    cap: int,
) -> tuple[str, int]:
    """A shadow delivery under the per-class model: (label, leave-one-out ``Confusion`` or None)
    answers in arrival order through ``decide_confusion`` until the decision is not 'more'.
    Returns (status, answers used); 'exhausted' with all of them when they run out first. The
    replay (re-deciding a shadow after some answers lost their weight) and the production
    re-estimate (``quality.services.model``) both call it."""
    for n in range(1, len(answers) + 1):
        dec, _ = decide_confusion(labels, log_prior, answers[:n], tau=1.0, target=target, cap=cap)
        if dec.status != "more":
            return dec.status, n
    return "exhausted", len(answers)


def cross_fitted_outcomes(
    labels: Sequence[str], shadow_fit: Mapping, known: Mapping, tau: float, eps: float
) -> dict:
    """Known item -> (label, calibrated P) from the re-estimate's cross-fitted (log prior,
    evidence) pairs (``engine.em.refit(...).shadow``: fits that did not see the item's known
    label). The claim compares this label with the known one, in the replay and in production."""
    out = {}
    for it, (log_prior, evidence) in shadow_fit.items():
        if it not in known:
            continue
        out[it] = delivered_label(labels, log_prior, evidence, tau, eps)
    return out
