"""The quality engine's Django glue: load what the pure engine needs, call it, write the
decision — one transaction per scored answer, idempotent (an answer already scored is
skipped, so a retried or duplicated task changes nothing). One module per job.
"""
from .common import RETRYABLE_ERRORS, ScoreOutcome, posterior_of, project_bar
from .items import annotator_accuracies
from .model import project_model_refresh
from .scoring import answer_score
from .sweep import unscored_sweep
from .drain import pending_drain
from .audits import annotator_evidence_add
from .answer_model import answer_features, answer_model_train, answer_weight
from .expert import expert_p_correct, item_expert_resolve
from .gating import annotator_gate
from .known_audit import known_flag_resolve, known_item_audit, known_item_audit_by_id, known_items_audit

__all__ = [
    "annotator_accuracies", "annotator_evidence_add", "annotator_gate", "answer_features", "answer_model_train", "answer_score",
    "answer_weight", "expert_p_correct", "item_expert_resolve",
    "known_flag_resolve", "pending_drain", "known_item_audit", "known_item_audit_by_id", "known_items_audit", "posterior_of",
    "project_bar", "project_model_refresh", "RETRYABLE_ERRORS", "ScoreOutcome", "unscored_sweep",
]
