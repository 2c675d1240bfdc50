"""Cadre's quality engine: pure functions, no Django. The Celery scoring task and the crowd
replay (``quality.replay``) call exactly these."""
from .acceptance import ItemDecision, accept, best_label, decide_item, item_posterior
from .annotator import (
    AnnotatorPosterior,
    chance_accuracy,
    default_bar,
    default_prior,
    posterior_update,
    prior_from_qualifier,
)
from .calibration import Calibration, fit_calibration
from .estimate import DeliveryClaim, clopper_pearson, delivery_claim, stratified_claim, wilson
from .gating import GateDecision, gate
from .policy import Candidate, choose_item, known_check_rate

__all__ = [
    "AnnotatorPosterior", "Calibration", "Candidate", "DeliveryClaim", "GateDecision", "ItemDecision",
    "accept", "best_label", "chance_accuracy", "choose_item", "clopper_pearson", "decide_item",
    "default_bar", "default_prior", "delivery_claim", "fit_calibration", "gate", "item_posterior",
    "known_check_rate", "posterior_update", "prior_from_qualifier", "stratified_claim", "wilson",
]
