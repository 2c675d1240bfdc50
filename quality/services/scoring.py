"""answer_score: the one entry point of the real-time path. One transaction per scored answer,
idempotent (an answer already scored is skipped, so a retried or duplicated task changes nothing)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tasks_app import task_types
from tasks_app.models import Answer

from .checks import _score_check
from .common import ScoreOutcome, project_lock
from .items import _score_item_answer
from .model import confusion_check_observe
from .structured import structured_answer_score


def answer_score(*, answer_id: int) -> ScoreOutcome:
    """Score one answer. Safe to run twice or concurrently: the answer row is locked and
    an answer with ``scored_at`` set is left alone."""
    with transaction.atomic():
        answer = (
            Answer.objects.select_for_update(of=("self",))
            .select_related("project")
            .filter(pk=answer_id)
            .first()
        )
        if answer is None:
            return ScoreOutcome(False, "skipped", "no such answer")
        if answer.scored_at is not None:
            return ScoreOutcome(False, "skipped", "already scored")
        project = answer.project
        project_lock(project.pk, exclusive=False)  # before any item, confusion or state row
        kind = task_types.scoring_kind(project.task_type, project.type_config)  # issue 6: structured types
        if answer.is_check and kind in (task_types.CATEGORICAL, task_types.AGREEMENT):
            outcome = _score_check(answer, project)
            if kind == task_types.CATEGORICAL:  # structured labels are not classes of the confusion model
                confusion_check_observe(answer=answer, project=project)
        elif kind == task_types.CATEGORICAL:
            outcome = _score_item_answer(answer, project)
        else:
            outcome = structured_answer_score(answer, project, kind)
        answer.scored_at = timezone.now()
        answer.save(update_fields=["scored_at", "correct"])
    return outcome
