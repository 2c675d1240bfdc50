"""One call from shadow-delivery outcomes to what a delivery shows: the claim and each item's
calibrated P(correct). The replay and the Django delivery selector both call this, so the
numbers a customer sees are computed one way.

Shadow delivery of a known item: its answers in arrival order through ``decide_item`` (each
annotator's accuracy leaving this item's own check out) until the decision is not 'more' (or the
answers run out: then its status is 'exhausted'); record (status, model p, label == known label).
:func:`shadow_decision` does that for a finished list of answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .acceptance import ItemDecision, decide_item
from .calibration import Calibration, fit_calibration
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
