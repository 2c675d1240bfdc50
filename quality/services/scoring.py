"""answer_score: the one entry point of the real-time path. One transaction per scoring task,
idempotent (an answer already scored is skipped, so a retried or duplicated task changes nothing).

Batches (issue 9): when answers on regular items of the same project are waiting unscored (the
worker is behind), the task of a regular answer scores up to ``backlog`` of them with its own, in
id order, in the same transaction — each one exactly as alone (acceptance after every answer, the
class prior written after every decided item: ``tests/quality/test_scoring_hot_path.py`` checks
the outcome equals scoring them one by one in that order), but the transaction, the advisory
lock, the answer count on the project's state row and the ``scored_at`` writes are paid once per
batch. Their own tasks find them scored and skip. A batch takes the project's advisory lock
*exclusively*: its answers touch many items and annotators' rows, and with the lock no other
scoring of the project interleaves with it (no lock-order cycles); a single answer keeps the
shared lock, so scorings of one project still run side by side when there is no backlog.
Hidden checks are never batched: gating can pause an annotator and release their leases, and a
transaction holding item rows that then waits for a lease a web submit holds, while that submit
waits for one of those items, would deadlock; alone, a check locks no item. (The first load run
with batches had 32 deadlocks of another kind, now fixed in ``checks.py``: the membership lock
also locked the joined project and user rows FOR UPDATE, against web submits' foreign-key checks.)
"""
from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from tasks_app import services as task_services
from tasks_app import task_types
from tasks_app.models import Answer, Project

from ..engine.em import REFRESH_MIN, refresh_due
from .checks import _score_check
from .answer_model import answer_weight_set
from .common import ScoreOutcome, project_lock
from .items import _score_item_answer
from .model import confusion_check_observe, model_state_count
from .structured import structured_answer_score


def _locked(qs, *, skip_locked: bool = False):
    # the answer row only (FOR NO KEY UPDATE); the annotator is read by the check path (their
    # quality row): one join, not one query
    return qs.select_for_update(of=("self",), no_key=True, skip_locked=skip_locked).select_related("annotator")


def _score_one(answer: Answer, project: Project, kind: str, pending: dict | None = None) -> ScoreOutcome:
    if answer.is_check and kind in (task_types.CATEGORICAL, task_types.AGREEMENT):
        outcome = _score_check(answer, project)
        if kind == task_types.CATEGORICAL:  # structured labels are not classes of the confusion model
            confusion_check_observe(answer=answer, project=project)
        return outcome
    if kind == task_types.CATEGORICAL:
        answer_weight_set(answer)  # issue 4: the answer-quality weight, stored with scored_at
        return _score_item_answer(answer, project, pending=pending)
    return structured_answer_score(answer, project, kind)  # issue 6: structured and subjective types


def answer_score(*, answer_id: int, backlog: int = 0) -> ScoreOutcome:
    """Score one answer (and, with ``backlog`` > 0 on PostgreSQL, up to that many other unscored
    answers of its project, see the module docstring). Safe to run twice or concurrently: the
    answer rows are locked and an answer with ``scored_at`` set is left alone. Returns the
    outcome of ``answer_id``."""
    with transaction.atomic():
        answer = _locked(Answer.objects.select_related("project").filter(pk=answer_id)).first()
        if answer is None:
            return ScoreOutcome(False, "skipped", "no such answer")
        if answer.scored_at is not None:
            return ScoreOutcome(False, "skipped", "already scored")
        project = answer.project
        kind = task_types.scoring_kind(project.task_type, project.type_config)
        categorical = kind == task_types.CATEGORICAL  # batches and the re-estimate: the confusion model's types
        batch = [answer]
        if backlog > 0 and categorical and not answer.is_check and connection.vendor == "postgresql":  # SQLite: no SKIP LOCKED
            waiting = Answer.objects.filter(project_id=project.pk, scored_at__isnull=True, is_check=False).exclude(pk=answer.pk)
            batch += list(_locked(waiting, skip_locked=True).order_by("id")[:backlog])
        # before any item, confusion or state row; exclusive for a batch (module docstring)
        project_lock(project.pk, exclusive=len(batch) > 1)
        batch.sort(key=lambda a: a.pk)
        outcomes, posts, pending = {}, [], {}
        for a in batch:
            a.project = project
            outcomes[a.pk] = outcome = _score_one(a, project, kind, pending)
            if a.weight is not None:
                pending[a.pk] = a.weight  # not saved yet: later answers of the batch read it here
            if outcome.class_post is not None:
                posts.append(outcome.class_post)
                if a is not batch[-1]:  # the next answers' items are decided under the new class prior
                    model_state_count(project, scored=0, posts=posts)
                    posts = []
            a.scored_at = timezone.now()
        if len(batch) == 1:
            answer.save(update_fields=["scored_at", "correct", "weight"])
        else:
            Answer.objects.bulk_update(batch, ["scored_at", "correct", "weight"])
        if categorical:
            # last statement of the transaction: the state row is locked only until commit
            scored, at_refresh = model_state_count(project, scored=len(batch), posts=posts)
            if _refresh_crossed(scored, len(batch), at_refresh):
                task_services.task_enqueue("quality.refresh_model", project.pk)  # sent after commit
    return outcomes[answer_id]


def _refresh_crossed(scored: int, added: int, at_refresh: int) -> bool:
    """Enqueue the re-estimate when this transaction made it due, and again every REFRESH_MIN
    answers while it stays due (a lost or still running re-estimate), not after every answer:
    each re-estimate reads the whole project."""
    if not refresh_due(scored, at_refresh):
        return False
    before = scored - added
    return not refresh_due(before, at_refresh) or before // REFRESH_MIN != scored // REFRESH_MIN
