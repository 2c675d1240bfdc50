"""Answer writes: idempotent submit (enqueues scoring) and the engine's item decision."""
from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .. import task_types
from ..models import Answer, Item, Lease
from .enqueue import answer_scoring_enqueue
from .sql import prepared_cursor

# Behaviour signals the task page reports with an answer (README "Behaviour signals"): each a
# bounded int; anything else is dropped (a missing or bad value is simply not recorded).
SIGNAL_BOUNDS = {"visible_ms": 24 * 3600 * 1000, "pastes": 10_000, "blurs": 10_000}


def answer_signals_clean(raw: dict[str, Any] | None) -> dict[str, int]:
    """The known signal keys whose values are ints within ``0..bound`` (digit strings from a
    form count); unknown keys, bools, negatives, floats and oversized values are ignored."""
    out: dict[str, int] = {}
    if not isinstance(raw, dict):
        return out
    for key, bound in SIGNAL_BOUNDS.items():
        value = raw.get(key)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= bound:
            out[key] = value
    return out


def answer_submit(
    *,
    annotator,
    lease_id: int,
    label: str,
    client_key: str,
    duration_ms: int | None = None,
    signals: dict[str, Any] | None = None,
    value: Any = None,
    project=None,
) -> tuple[Answer, bool]:
    """Store an answer for a leased item; returns (answer, created).

    Idempotent on ``client_key``: the same submission twice returns the first answer and
    creates nothing. Scoring is enqueued after commit. Raises ValidationError for an
    unknown label or a lease that is not this annotator's live lease. ``signals`` (behaviour
    the page reports) is cleaned by ``answer_signals_clean``: bad values are dropped, never refused.
    ``value``: the structured answer of the non-categorical types, checked and given its canonical
    ``label`` by ``tasks_app.task_types.answer_clean`` (single choice: ``label`` alone).

    The hot path is one transaction of four statements (lock the lease, insert the answer,
    close the lease, count the answer). A repeated ``client_key`` or a second answer to the
    same item is caught by the unique constraints: the transaction rolls back whole, then
    the first answer is looked up (issue 9: no savepoint, no lookup before the insert).

    ``project`` (the caller's, e.g. the task page's membership project): on PostgreSQL the usual
    case (a live lease of this project, a valid answer) is then ONE statement (``_submit_sql``);
    anything else (no such lease, expired, another project's lease, a retry, a bad answer) finds no
    row there and takes the path above, which decides exactly as before.
    """
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": ["A client key of 1 to 64 characters is required."]})
    clean = answer_signals_clean(signals)
    if project is not None and connection.vendor == "postgresql":
        fast = _answer_submit_one_statement(
            annotator=annotator, project=project, lease_id=lease_id, label=label, value=value,
            client_key=client_key, duration_ms=duration_ms, signals=clean,
        )
        if fast is not None:
            return fast
    try:
        with transaction.atomic():
            lease = (
                Lease.objects.select_for_update(of=("self",))
                .select_related("item", "project")
                .filter(pk=lease_id, annotator=annotator)
                .first()
            )
            if lease is None:
                raise ValidationError({"lease": ["No such task for you."]})
            if lease.state != Lease.State.ACTIVE or lease.expires_at <= timezone.now():
                # A retried or doubled submission of this lease finds the first answer.
                existing = Answer.objects.filter(annotator=annotator, client_key=client_key).first()
                if existing is not None:
                    return existing, False
                raise ValidationError({"lease": ["This task is no longer yours (it expired or was released)."]})
            project = lease.project
            label, value = task_types.answer_clean(project.task_type, project.type_config, project.labels, label, value)
            answer = Answer.objects.create(
                item=lease.item,
                project=lease.project,
                annotator=annotator,
                label=label,
                value=value,
                client_key=client_key,
                duration_ms=duration_ms,
                signals=clean,
                is_check=lease.item.is_known,
            )
            Lease.objects.filter(pk=lease.pk).update(state=Lease.State.SUBMITTED)
            # The lease's slot becomes the answer's: assigned stays, answers_count grows.
            Item.objects.filter(pk=lease.item_id).update(answers_count=F("answers_count") + 1)
            answer_scoring_enqueue(answer.pk)
    except IntegrityError:
        # Rolled back whole. The client key was used before (by an answer to another lease):
        # that answer is the result; otherwise this item already has their answer.
        existing = Answer.objects.filter(annotator=annotator, client_key=client_key).first()
        if existing is not None:
            return existing, False
        raise ValidationError({"lease": ["You have already answered this item."]}) from None
    return answer, True


# The usual submit as one statement (issue 9): lock the live lease (``FOR UPDATE``: a second submit of
# the same lease waits here, then finds it no longer active and takes the full path), insert the
# answer, close the lease and count the answer on its item. Data-modifying CTEs all run to completion;
# when the lease is not live there is no row to insert, so nothing changes. In autocommit mode the
# statement is its own transaction (no BEGIN/COMMIT round trips).
_SUBMIT_SQL = """
WITH l AS (
  SELECT l.id, l.item_id FROM {lease} l
  WHERE l.id = %(lease)s AND l.annotator_id = %(annotator)s AND l.project_id = %(project)s
    AND l.state = 'active' AND l.expires_at > %(now)s
  FOR UPDATE
), a AS (
  INSERT INTO {answer} (item_id, project_id, annotator_id, label, value, client_key, duration_ms, signals, is_check, created_at)
  SELECT l.item_id, %(project)s, %(annotator)s, %(label)s, %(value)s::jsonb, %(client_key)s, %(duration)s,
         %(signals)s::jsonb, i.is_known, %(now)s
  FROM l JOIN {item} i ON i.id = l.item_id
  RETURNING id, item_id, is_check
), s AS (
  UPDATE {lease} SET state = 'submitted' WHERE id IN (SELECT id FROM l) AND EXISTS (SELECT 1 FROM a)
), c AS (
  UPDATE {item} SET answers_count = answers_count + 1 WHERE id IN (SELECT item_id FROM a)
)
SELECT id, item_id, is_check FROM a"""
_submit_sql_text: list[str] = []


def _submit_sql() -> str:
    if not _submit_sql_text:
        q = connection.ops.quote_name
        _submit_sql_text.append(_SUBMIT_SQL.format(
            lease=q(Lease._meta.db_table), answer=q(Answer._meta.db_table), item=q(Item._meta.db_table)))
    return _submit_sql_text[0]


def _answer_submit_one_statement(
    *, annotator, project, lease_id: int, label: str, value: Any, client_key: str, duration_ms: int | None,
    signals: dict[str, int],
) -> tuple[Answer, bool] | None:
    """The usual submit in one statement, or None when it does not apply (then the caller's full
    path decides: no live lease of this project, or an answer the type refuses, so that a retry of
    a submitted lease still finds its first answer before the answer is checked)."""
    try:
        label, value = task_types.answer_clean(project.task_type, project.type_config, project.labels, label, value)
    except ValidationError:
        return None
    now = timezone.now()
    params = {"lease": lease_id, "annotator": annotator.pk, "project": project.pk, "now": now, "label": label,
              "value": None if value is None else json.dumps(value), "client_key": client_key,
              "duration": duration_ms, "signals": json.dumps(signals)}
    try:
        # inside a caller's transaction a savepoint, so a unique violation rolls back only this
        with transaction.atomic() if connection.in_atomic_block else nullcontext():  # else: the statement commits by itself
            with prepared_cursor() as cursor:
                cursor.execute(_submit_sql(), params)
                row = cursor.fetchone()
            if row is None:
                return None
            answer_scoring_enqueue(row[0])
    except IntegrityError:
        existing = Answer.objects.filter(annotator=annotator, client_key=client_key).first()
        if existing is not None:
            return existing, False
        raise ValidationError({"lease": ["You have already answered this item."]}) from None
    answer = Answer(id=row[0], item_id=row[1], project_id=project.pk, annotator_id=annotator.pk, label=label, value=value,
                    client_key=client_key, duration_ms=duration_ms, signals=signals, is_check=row[2], created_at=now)
    answer._state.adding = False
    answer._state.db = connection.alias
    return answer, True


def item_decision_apply(
    *, item: Item, status: str, label: str | None, p_correct: float | None, answers_wanted: int, value: Any = None
) -> None:
    """Record the quality engine's decision on an item (caller holds the item lock). ``value``:
    the decided structure of the non-categorical types (tasks_app.task_types)."""
    item.status = status
    item.label = label
    item.p_correct = p_correct
    item.answers_wanted = answers_wanted
    fields = ["status", "label", "p_correct", "answers_wanted"]
    if value is not None or item.value is not None:
        item.value = value
        fields.append("value")
    if status != Item.Status.OPEN:
        item.decided_at = timezone.now()
        fields.append("decided_at")
    item.save(update_fields=fields)
