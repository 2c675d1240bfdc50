"""The quality engine's Django glue: load what the pure engine needs, call it, write the
decision — one transaction per scored answer, idempotent (an answer already scored is
skipped, so a retried or duplicated task changes nothing). One module per job.
"""
from .common import RETRYABLE_ERRORS, ScoreOutcome, posterior_of, project_bar
from .items import annotator_accuracies
from .model import confusion_check_observe, project_model_refresh
from .scoring import answer_score
from .sweep import unscored_sweep

__all__ = ["RETRYABLE_ERRORS", "ScoreOutcome", "annotator_accuracies", "answer_score", "confusion_check_observe", "posterior_of", "project_bar", "project_model_refresh", "unscored_sweep"]
