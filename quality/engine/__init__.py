"""Cadre's quality engine: pure functions, no Django. The Celery scoring task and the crowd
replay (``quality.replay``) call exactly these.

Per answer, in this order:

1. hidden known-answer check -> ``posterior_update`` (Beta; prior from ``prior_from_qualifier``:
   default Beta with mean halfway between chance and 1 worth 4 answers; a quiz question counts
   half a check, at most 10) -> ``gate`` (warn at P(acc < bar) >= 0.75, revoke at >= 0.95 with
   >= 5 checks, final; bar = ``default_bar``: halfway between chance and perfect);
2. regular item -> ``decide_item`` (one-coin ``item_posterior`` with current accuracy means;
   ``accept`` at P >= target with >= 2 agreeing answers, 'exhausted' at the cap);
3. the same on each known item as a *shadow delivery* (accuracies leave that item's check out);
   shadow outcomes give the delivery claim and per-item calibration in one call,
   ``claim_from_shadow`` (``stratified_claim``: Clopper-Pearson by decision status) and the per-item calibration (``fit_calibration``) — the model's P is
   optimistic because errors correlate on hard items; the calibrated one is what customers see.

Assignment: ``known_check_rate`` (1.0 for the first 3 checks, 0.1-0.5 after, highest for
borderline annotators) and ``choose_item`` (priority, then items in progress, random ties).
"""
from .acceptance import ItemDecision, accept, best_label, decide_confusion, decide_item, item_posterior
from .annotator import (
    AnnotatorPosterior,
    chance_accuracy,
    default_bar,
    default_prior,
    posterior_update,
    prior_from_qualifier,
)
from .calibration import Calibration, fit_calibration
from .estimate import SHADOW_DESIGN_EFFECT, DeliveryClaim, clopper_pearson, delivery_claim, stratified_claim, wilson
from .delivery import ShadowClaim, ShadowOutcome, claim_from_shadow, shadow_decision
from .gating import GateDecision, gate
from .policy import Candidate, choose_item, known_check_rate

__all__ = [
    "SHADOW_DESIGN_EFFECT",
    "ShadowClaim", "ShadowOutcome", "claim_from_shadow", "shadow_decision",
    "AnnotatorPosterior", "Calibration", "Candidate", "DeliveryClaim", "GateDecision", "ItemDecision",
    "accept", "best_label", "decide_confusion", "chance_accuracy", "choose_item", "clopper_pearson", "decide_item",
    "default_bar", "default_prior", "delivery_claim", "fit_calibration", "gate", "item_posterior",
    "known_check_rate", "posterior_update", "prior_from_qualifier", "stratified_claim", "wilson",
]
