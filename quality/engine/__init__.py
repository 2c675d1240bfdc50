"""Cadre's quality engine: pure functions, no Django. The Celery scoring task and the crowd
replay (``quality.replay``) call exactly these.

Per answer, in this order:

1. hidden known-answer check -> ``posterior_update`` (Beta accuracy; prior from
   ``prior_from_qualifier``) -> ``gate`` (warn / revoke; owned by gating) and a one-hot
   observation in the annotator's per-class ``Confusion`` rows (``engine.confusion``: Dirichlet
   rows, prior from the qualifier and the annotator's checks on other projects);
2. regular item -> ``decide_confusion``: posterior over true labels from every answer's
   confusion row and the project's class prior; ``accept`` at P >= target with >= 2 agreeing
   answers, 'exhausted' at the cap; a decided item's posterior is fed back into its annotators'
   rows (incremental Dawid-Skene, O(answers on the item));
3. every time a project's answers grew by 25 % (``em.refresh_due``): the periodic re-estimate
   ``em.refit`` — semi-supervised Dawid-Skene over all answers (known items clamped), plus the
   calibration of item probabilities (evidence temperature ``tau`` and hard-item share ``eps``,
   ``em.fit_tempering``) fitted by maximum likelihood on known items whose label the fit did not
   see (5-fold cross-fitting). Geometric schedule: O(1) amortised per answer, per project;
4. the claim: *shadow deliveries* of known items (the acceptance procedure on each known item's
   answers in arrival order, its own check left out; label from a fit blind to it) -> 
   ``post_stratified_claim`` (one-sided Clopper-Pearson post-stratified by decision status and
   the items' calibrated P(correct), counts divided by ``SHADOW_DESIGN_EFFECT``).

Assignment: ``known_check_rate`` (1.0 for the first 3 checks, highest for borderline
annotators, a floor that decays with the evidence held, never below 0.03) and ``choose_item``.
"""
from .acceptance import ItemDecision, accept, best_label, decide_confusion, decide_item, item_posterior, reopen_decision
from .annotator import (
    AnnotatorPosterior,
    chance_accuracy,
    default_bar,
    default_prior,
    posterior_update,
    prior_from_qualifier,
)
from .calibration import Calibration, fit_calibration
from .estimate import (
    SHADOW_DESIGN_EFFECT, DeliveryClaim, clopper_pearson, delivery_claim, difficulty_strata, post_stratified_claim,
    stratified_claim, wilson,
)
from .delivery import ShadowClaim, ShadowOutcome, claim_from_shadow, shadow_decision
from .gating import GateDecision, gate
from .policy import Candidate, choose_item, known_check_rate, proven, shadow_eligible

__all__ = [
    "SHADOW_DESIGN_EFFECT",
    "ShadowClaim", "ShadowOutcome", "claim_from_shadow", "shadow_decision",
    "AnnotatorPosterior", "Calibration", "Candidate", "DeliveryClaim", "GateDecision", "ItemDecision",
    "accept", "best_label", "decide_confusion", "reopen_decision", "chance_accuracy", "choose_item", "clopper_pearson", "decide_item",
    "default_bar", "default_prior", "delivery_claim", "fit_calibration", "gate", "item_posterior",
    "known_check_rate", "posterior_update", "proven", "shadow_eligible", "prior_from_qualifier", "stratified_claim", "wilson", "difficulty_strata", "post_stratified_claim",
]
