"""answer_score: the entry point of the real-time path. One transaction per scoring task,
idempotent (an answer already scored is skipped, so a retried or duplicated task changes nothing).

Batches (issue 9): regular answers of one project are scored together in one transaction — by the
coalesced drain (``drain.py`` → ``regular_answers_score``: the answers of a chunk), or by a
per-answer task that finds others of its project waiting (``backlog``) — set-based
(``items._score_item_answers``: each read and each write once per batch) and, in id order, each
exactly as alone (acceptance after every answer, the class prior moved after every decided item:
``tests/quality/test_scoring_hot_path.py`` checks the outcome equals scoring them one by one in that
order); the transaction, the advisory lock, the answer count on the project's state row and the
``scored_at`` writes are paid once per batch. A batch takes the project's advisory lock
*exclusively*: its answers touch many items and annotators' rows, and with the lock no other
scoring of the project interleaves with it (no lock-order cycles); a single answer keeps the
shared lock, so scorings of one project still run side by side when there is no backlog.
Hidden checks are never batched with regular answers: gating can pause an annotator and release
their leases, and a transaction holding item rows that then waits for a lease a web submit holds,
while that submit waits for one of those items, would deadlock; a check locks no item. The drain
batches a project's checks in a transaction of their own (``check_answers_score``), ended right
after a gate that pauses or revokes, so it releases at most one annotator's leases, last. (The first load run
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
from . import hot_sql
from .checks import _score_checks
from .common import ScoreOutcome, project_lock
from .items import _score_item_answers
from .model import model_state_count
from .structured import structured_answer_score


def _locked(qs, *, skip_locked: bool = False):
    # the answer row only (FOR NO KEY UPDATE); the annotator is read by the check path (their
    # quality row): one join, not one query
    return qs.select_for_update(of=("self",), no_key=True, skip_locked=skip_locked).select_related("annotator")


def answer_score(*, answer_id: int, backlog: int = 0) -> ScoreOutcome:
    """Score one answer: the per-answer task's path (``quality.score_answer``: the sweep's and
    ops' re-sends, and the embedded run without Redis). With ``backlog`` > 0 on PostgreSQL, a
    regular answer of a categorical project takes up to that many other unscored regular answers
    of its project with it. Safe to run twice or concurrently: an answer already scored, or held
    by another scoring, is left alone. Returns the outcome of ``answer_id``.

    One code path with the drain (decision, irev3): a categorical project's regular answer goes
    through :func:`regular_answers_score` and a categorical or agreement check through
    :func:`check_answers_score`, as a batch of one (with its backlog), so the single task and
    the drain cannot drift apart (``tests/quality/test_scoring_hot_path.py`` compares batches
    with batches of one through this function). Two consequences, both chosen:

    * The answer is locked SKIP LOCKED like the drain's: an answer another scoring holds is not
      waited for but reported ``skipped`` ("held by another scoring"); that scoring scores it, or
      if it rolls back, its retry or the sweep does. (The ORM path waited for the lock and then
      found it scored.)
    * A single check takes the project's advisory lock exclusively, as the drain's checks do; the
      shared lock let single checks of one project run side by side, which mattered only when a
      task per answer was the main path.

    Other task types (structured, subjective) have no batch form; their answers are scored one per
    transaction by :func:`_answer_score_alone`, which the drain calls for them too."""
    answer = Answer.objects.select_related("project").filter(pk=answer_id).first()  # unlocked: which path
    if answer is None:
        return ScoreOutcome(False, "skipped", "no such answer")
    if answer.scored_at is not None:
        return ScoreOutcome(False, "skipped", "already scored")
    project = answer.project
    kind = task_types.scoring_kind(project.task_type, project.type_config)
    if answer.is_check and kind in (task_types.CATEGORICAL, task_types.AGREEMENT):
        out = check_answers_score(project_id=project.pk, answer_ids=[answer_id], project=project)
    elif not answer.is_check and kind == task_types.CATEGORICAL:
        ids = [answer_id]
        if backlog > 0 and connection.vendor == "postgresql":  # SQLite: no SKIP LOCKED, no batches
            ids += list(Answer.objects.filter(project_id=project.pk, scored_at__isnull=True, is_check=False)
                        .exclude(pk=answer_id).order_by("id").values_list("id", flat=True)[:backlog])
        out = regular_answers_score(project_id=project.pk, answer_ids=ids, project=project)
    else:
        return _answer_score_alone(answer_id)
    if answer_id in out:
        return out[answer_id]
    if Answer.objects.filter(pk=answer_id, scored_at__isnull=False).exists():
        return ScoreOutcome(False, "skipped", "already scored")
    return ScoreOutcome(False, "skipped", "held by another scoring")


def _answer_score_alone(answer_id: int) -> ScoreOutcome:
    """One answer in its own transaction, its row locked (waiting for another scoring that holds
    it): the path of task types without a batch form."""
    with transaction.atomic():
        answer = _locked(Answer.objects.select_related("project").filter(pk=answer_id)).first()
        if answer is None:
            return ScoreOutcome(False, "skipped", "no such answer")
        if answer.scored_at is not None:
            return ScoreOutcome(False, "skipped", "already scored")
        project = answer.project
        return _score_locked([answer], project, task_types.scoring_kind(project.task_type, project.type_config))[answer_id]


def regular_answers_score(*, project_id: int, answer_ids: list[int], project: Project | None = None) -> dict[int, ScoreOutcome]:
    """The drain's batch (``quality.services.drain``): these regular answers of one project, in
    one transaction, those still unscored and not locked by another scoring (SKIP LOCKED; the
    others are left to it). A project whose type is not categorical is scored one answer per
    transaction. ``project``: the drain's copy, read once per chunk (else read here). Returns the
    outcomes of the answers scored here."""
    project = project or Project.objects.get(pk=project_id)
    kind = task_types.scoring_kind(project.task_type, project.type_config)
    with transaction.atomic():
        batch = hot_sql.answers_locked(project_id, answer_ids, is_check=False)
        if not batch:
            return {}
        if kind == task_types.CATEGORICAL:
            return _score_locked(batch, project, kind)
    out = {}
    for answer_id in sorted(a.pk for a in batch):
        outcome = _answer_score_alone(answer_id)
        if outcome.scored:
            out[answer_id] = outcome
    return out


def check_answers_score(*, project_id: int, answer_ids: list[int], project: Project | None = None) -> dict[int, ScoreOutcome]:
    """The drain's hidden checks of one project: in id order, as few transactions as the rule in
    ``checks._score_checks`` allows (one, unless a gate pauses or revokes someone: the
    transaction ends after that check), a single check too (the same code path as a chunk's; the
    per-answer task's single check comes here as well). Answers locked by another scoring are left
    to it. Task types whose checks are not categorical or agreement: one answer per transaction.
    ``project``: as in :func:`regular_answers_score`."""
    project = project or Project.objects.get(pk=project_id)
    kind = task_types.scoring_kind(project.task_type, project.type_config)
    out: dict[int, ScoreOutcome] = {}
    remaining = sorted(answer_ids)
    while remaining:
        with transaction.atomic():
            batch = hot_sql.answers_locked(project_id, remaining, is_check=True)
            if not batch:
                return out
            if kind not in (task_types.CATEGORICAL, task_types.AGREEMENT):
                done = [batch[0]]
                out.update(_score_locked(done, project, kind))
            else:
                project_lock(project.pk, exclusive=True)  # as a batch of regular answers (module docstring)
                for a in batch:
                    a.project = project
                outcomes, done = _score_checks(batch, project, kind)
                out.update(outcomes)
                if kind == task_types.CATEGORICAL:
                    scored, at_refresh = model_state_count(project, scored=len(done), posts=[])
                    if _refresh_crossed(scored, len(done), at_refresh):
                        task_services.task_enqueue("quality.refresh_model", project.pk)
        finished = {a.pk for a in done}
        locked = {a.pk for a in batch}
        remaining = [a for a in remaining if a not in finished and a in locked]
    return out


def _score_locked(batch: list[Answer], project: Project, kind: str) -> dict[int, ScoreOutcome]:
    """Score locked, unscored answers of one project in the caller's transaction: regular answers
    of a categorical project, one or more (set-based, ``items._score_item_answers``), or one
    answer of a type without a batch form (issue 6: ``structured_answer_score``). Categorical and
    agreement checks are not scored here but by :func:`check_answers_score`, a single one too
    (since irev3 the only code that scores them: the per-answer ``checks._score_check`` it
    replaced is gone)."""
    if kind in (task_types.CATEGORICAL, task_types.AGREEMENT) and any(a.is_check for a in batch):
        raise ValueError("categorical and agreement checks are scored by check_answers_score")
    categorical = kind == task_types.CATEGORICAL  # batches and the re-estimate: the confusion model's types
    # before any item, confusion or state row; exclusive for a batch (module docstring)
    project_lock(project.pk, exclusive=len(batch) > 1)
    batch.sort(key=lambda a: a.pk)
    for a in batch:
        a.project = project
    if not categorical:
        assert len(batch) == 1, "no batch form"
        outcome = structured_answer_score(batch[0], project, kind)
        outcomes, posts = {batch[0].pk: outcome}, [outcome.class_post] if outcome.class_post is not None else []
        batch[0].scored_at = timezone.now()
        batch[0].save(update_fields=["scored_at", "correct", "weight"])
    else:  # regular answers of a categorical project, one or more: set-based
        outcomes, posts = _score_item_answers(batch, project)
        # scored_at and the weights (set only while an answer model is active) in one statement
        hot_sql.answers_scored_write(batch, timezone.now())
    if categorical:
        # last statement of the transaction: the state row is locked only until commit
        scored, at_refresh = model_state_count(project, scored=len(batch), posts=posts)
        if _refresh_crossed(scored, len(batch), at_refresh):
            task_services.task_enqueue("quality.refresh_model", project.pk)  # sent after commit
    return outcomes


def _refresh_crossed(scored: int, added: int, at_refresh: int) -> bool:
    """Enqueue the re-estimate when this transaction made it due, and again every REFRESH_MIN
    answers while it stays due (a lost or still running re-estimate), not after every answer:
    each re-estimate reads the whole project."""
    if not refresh_due(scored, at_refresh):
        return False
    before = scored - added
    return not refresh_due(before, at_refresh) or before // REFRESH_MIN != scored // REFRESH_MIN
