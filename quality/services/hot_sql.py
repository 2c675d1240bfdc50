"""The drain's reads and writes as prepared statements (issue 9, fifth round: worker CPU per answer).

Profiling the drain on a realistic backlog (``bench/scoring_cost.py``, cProfile) showed most of
its Python time in building ORM statements (``Query``/``SQLCompiler``: ~0.5 ms per statement)
and instantiating model rows it hardly used (a ``Project`` and a ``User`` per locked answer,
whole ``Item`` rows with their data), not in the math. The statements the drain runs per
transaction are therefore written once here, as fixed SQL text with array parameters
(``= ANY(%s)``, ``unnest``), so a statement has ONE text whatever the batch size, and run
through ``tasks_app.services.sql.prepared_cursor``: PostgreSQL parses and plans each once per
connection. They return plain tuples or light model instances with only the fields scoring
reads. SQLite (the embedded run) gets the ORM forms: there ``prepared_cursor`` is a plain
cursor, and ``= ANY`` / ``unnest`` / ``FOR … SKIP LOCKED`` do not exist.

Each function says which ORM call it replaces; results are identical (the equality tests in
``tests/quality/test_scoring_hot_path.py`` compare the drain with one-by-one scoring).
"""
from __future__ import annotations

import json
from datetime import datetime

from django.db import connection

from tasks_app.models import Answer, Item
from tasks_app.services.sql import prepared_cursor
from workforce.models import Membership

from ..models import (
    AnnotatorConfusion,
    AnnotatorQuality,
    GatingState,
    ProjectModelState,
)


def postgres() -> bool:
    return connection.vendor == "postgresql"


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _row(model, names, values):
    """A model instance with only these fields loaded (``Model.from_db`` takes the values in the
    model's field order)."""
    given = dict(zip(names, values))
    attnames = [f.attname for f in model._meta.concrete_fields if f.attname in given]
    return model.from_db(connection.alias, attnames, [given[n] for n in attnames])


def _json(v):
    return json.loads(v) if isinstance(v, (str, bytes)) else v


_ANSWER_COLS = ("id", "item_id", "project_id", "annotator_id", "label", "value", "client_key", "duration_ms", "signals",
                "is_check", "correct", "weight", "created_at", "scored_at")


def unscored(limit: int, skipped: set[int]) -> list[tuple[int, int, bool]]:
    """The drain's read: the oldest unscored answers (id, project, is it a check), ``skipped`` left out."""
    if not postgres():
        qs = Answer.objects.filter(scored_at__isnull=True)
        if skipped:
            qs = qs.exclude(pk__in=skipped)
        return list(qs.order_by("id").values_list("id", "project_id", "is_check")[:limit])
    with prepared_cursor() as c:
        c.execute(f"SELECT id, project_id, is_check FROM {_t(Answer)} WHERE scored_at IS NULL "
                  "AND NOT (id = ANY(%s::bigint[])) ORDER BY id LIMIT %s", [sorted(skipped), limit])
        return c.fetchall()


def answers_locked(project_id: int, ids: list[int], *, is_check: bool) -> list[Answer]:
    """Those of ``ids`` of this project still unscored, of this kind, locked (FOR NO KEY UPDATE of
    the answer rows only; SKIP LOCKED: another scoring holds the rest), in id order, as ``Answer``
    instances without their project or annotator loaded (the caller attaches the project)."""
    if not postgres():
        return list(Answer.objects.select_for_update().filter(
            pk__in=ids, project_id=project_id, scored_at__isnull=True, is_check=is_check).order_by("id"))
    with prepared_cursor() as c:
        c.execute(f"SELECT {', '.join(_ANSWER_COLS)} FROM {_t(Answer)} WHERE id = ANY(%s::bigint[]) AND project_id = %s "
                  "AND scored_at IS NULL AND is_check = %s ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
                  [list(ids), project_id, is_check])
        rows = c.fetchall()
    out = []
    for r in rows:
        r = list(r)
        r[5], r[8] = _json(r[5]), _json(r[8])  # value, signals (jsonb comes back as text, as Django reads it)
        out.append(_row(Answer, _ANSWER_COLS, r))
    return out


def items_locked(item_ids: list[int]) -> dict[int, Item]:
    """The items (FOR NO KEY UPDATE, id order) with the fields a categorical decision reads and
    writes: status, answers wanted, decision time (was the whole ``Item`` row through the ORM)."""
    if not postgres():
        return {it.pk: it for it in Item.objects.select_for_update().filter(pk__in=item_ids).order_by("id")}
    with prepared_cursor() as c:
        c.execute(f"SELECT id, status, answers_wanted, decided_at FROM {_t(Item)} WHERE id = ANY(%s::bigint[]) "
                  "ORDER BY id FOR NO KEY UPDATE", [list(item_ids)])
        rows = c.fetchall()
    return {i: _row(Item, ("id", "status", "answers_wanted", "decided_at"), (i, s, w, d))
            for i, s, w, d in rows}


def item_answers(item_ids: list[int]) -> list[tuple[int, int, int, str, float | None]]:
    """(id, item, annotator, label, weight) of every answer to these items, in id order."""
    if not postgres():
        return list(Answer.objects.filter(item_id__in=item_ids).order_by("id")
                    .values_list("id", "item_id", "annotator_id", "label", "weight"))
    with prepared_cursor() as c:
        c.execute(f"SELECT id, item_id, annotator_id, label, weight FROM {_t(Answer)} "
                  "WHERE item_id = ANY(%s::bigint[]) ORDER BY id", [list(item_ids)])
        return c.fetchall()


def _rows_locked(model, cols: tuple[str, ...] | None, project_id: int, annotator_ids: list[int], *,
                 json_cols: tuple[str, ...] = (), lock: str = "UPDATE") -> dict:
    """This project's rows of ``model`` that exist for these annotators, locked ``FOR <lock>`` in
    annotator order (the fixed lock order every drain takes), by annotator id: ``SELECT id,
    annotator_id, <cols> … WHERE project_id = %s AND annotator_id = ANY(%s) ORDER BY annotator_id
    FOR <lock>``, one text per model whatever the batch size, so it is prepared once per
    connection. The instances carry only ``id``, ``project_id``, ``annotator_id`` and ``cols``
    (``json_cols`` among them are decoded as Django reads jsonb). ``cols=None``: every concrete
    field, in the model's order (whole instances; its JSON fields decoded). ``lock`` is the
    lock strength, ``UPDATE`` or ``NO KEY UPDATE``. The counterpart of ``_rows_update``, which
    writes such rows back. SQLite: the ORM's ``select_for_update`` (whole rows)."""
    if not postgres():
        return {r.annotator_id: r for r in model.objects.select_for_update()
                .filter(project_id=project_id, annotator_id__in=annotator_ids).order_by("annotator_id")}
    q = connection.ops.quote_name
    if cols is None:
        fields = model._meta.concrete_fields
        names, extra = tuple(f.attname for f in fields), ()
        json_cols = tuple(f.attname for f in fields if f.get_internal_type() == "JSONField")
        select = ", ".join(q(n) for n in names)
    else:
        names, extra = ("id", "annotator_id", *cols, "project_id"), (project_id,)
        select = f"id, annotator_id, {', '.join(q(n) for n in cols)}"
    with prepared_cursor() as c:
        c.execute(f"SELECT {select} FROM {_t(model)} "
                  "WHERE project_id = %s "
                  f"AND annotator_id = ANY(%s::bigint[]) ORDER BY annotator_id FOR {lock}", [project_id, list(annotator_ids)])
        rows = c.fetchall()
    json_at = [k for k, n in enumerate(names) if n in json_cols]
    out = {}
    for r in rows:
        r = [*r, *extra]
        for k in json_at:
            r[k] = _json(r[k])
        m = _row(model, names, r)
        out[m.annotator_id] = m
    return out


def confusions_locked(project_id: int, annotator_ids: list[int]) -> dict[int, AnnotatorConfusion]:
    """The annotators' confusion rows that exist, locked in annotator order (``model.confusions``'s
    read; it creates the missing ones)."""
    return _rows_locked(AnnotatorConfusion, ("rows",), project_id, annotator_ids, json_cols=("rows",))


def quality_locked(project_id: int, annotator_ids: list[int]) -> dict[int, AnnotatorQuality]:
    """The annotators' quality rows that exist (Beta posterior), locked in annotator order."""
    return _rows_locked(AnnotatorQuality, ("alpha", "beta", "checks", "checks_correct"), project_id, annotator_ids)


def memberships_locked(project_id: int, annotator_ids: list[int]) -> dict[int, Membership]:
    """The annotators' memberships (FOR NO KEY UPDATE of the membership rows only), annotator
    order, as full ``Membership`` instances (gating reads and sets several fields) without the
    joined project and user (was ``select_related``: a ``Project`` and a ``User`` per row; the
    caller attaches the project, and the user is loaded only if a pause releases leases)."""
    return _rows_locked(Membership, None, project_id, annotator_ids, lock="NO KEY UPDATE")


def gating_states_locked(project_id: int, annotator_ids: list[int]) -> dict[int, GatingState]:
    """The annotators' SPRT walks that exist, locked in annotator order (``gating._state``'s read, once per batch)."""
    return _rows_locked(GatingState, ("llr", "pauses", "standing", "model_version"), project_id, annotator_ids)


class ScoringState:
    """What item scoring reads of ``ProjectModelState`` (not its shadow sample, which can be large)."""

    __slots__ = ("log_prior", "class_counts", "tau", "eps", "answer_watermark")

    def __init__(self, log_prior, class_counts, tau, eps, answer_watermark):
        self.log_prior, self.class_counts, self.tau, self.eps = log_prior, class_counts, tau, eps
        self.answer_watermark = answer_watermark


def scoring_state(project_id: int) -> ScoringState | None:
    """The project's model state for item scoring, unlocked; None when it has no row yet."""
    if not postgres():
        row = ProjectModelState.objects.filter(project_id=project_id).values_list(
            "log_prior", "class_counts", "tau", "eps", "answer_watermark").first()
    else:
        with prepared_cursor() as c:
            c.execute(f"SELECT log_prior, class_counts, tau, eps, answer_watermark FROM {_t(ProjectModelState)} "
                      "WHERE project_id = %s", [project_id])
            row = c.fetchone()
    if row is None:
        return None
    return ScoringState(_json(row[0]), _json(row[1]), row[2], row[3], row[4])


def answers_scored_write(answers: list[Answer], at: datetime, *, correct: bool = False) -> None:
    """``scored_at`` of these answers, their weight when set (null = not weighed: left as
    stored), and with ``correct`` their check outcome, in one statement (was an ``update()``
    and a ``bulk_update`` of the weights, or one ``save()`` per check)."""
    if not answers:
        return
    if not postgres():
        for a in answers:
            a.scored_at = at
        Answer.objects.bulk_update(answers, ["scored_at", "weight", "correct"] if correct else ["scored_at", "weight"])
        return
    for a in answers:
        a.scored_at = at
    sql = (f"UPDATE {_t(Answer)} AS a SET scored_at = %s, weight = COALESCE(v.w, a.weight)"
           + (", correct = v.c" if correct else "")
           + " FROM unnest(%s::bigint[], %s::double precision[], %s::boolean[]) AS v(id, w, c) WHERE a.id = v.id")
    with prepared_cursor() as c:
        c.execute(sql, [at, [a.pk for a in answers], [a.weight for a in answers], [a.correct for a in answers]])


def _rows_update(model, rows: list, columns: dict[str, str], at: datetime | None = None) -> None:
    """Write these fields of ``rows`` back in one statement: ``UPDATE … SET col = v.col …
    FROM unnest(%s::<type>[], …) AS v WHERE id = v.id``, one array per column (``columns`` maps a
    field to its PostgreSQL type), so the text is the same whatever the batch size and is prepared
    once per connection. With ``at`` the rows' ``updated_at`` is set to it too. SQLite:
    ``bulk_update``."""
    if not rows:
        return
    names = list(columns)
    if at is not None:
        for r in rows:
            r.updated_at = at
    if not postgres():
        model.objects.bulk_update(rows, names + (["updated_at"] if at is not None else []))
        return
    q = connection.ops.quote_name
    cols = [q(model._meta.get_field(n).column) for n in names]
    sets = ", ".join(f"{c} = v.{c}" for c in cols) + (", updated_at = %s" if at is not None else "")
    arrays = ", ".join(f"%s::{columns[n]}[]" for n in names)
    sql = (f"UPDATE {_t(model)} AS t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS v(id, {', '.join(cols)}) "
           "WHERE t.id = v.id")
    params = ([at] if at is not None else []) + [[r.pk for r in rows]] + [[getattr(r, n) for r in rows] for n in names]
    with prepared_cursor() as c:
        c.execute(sql, params)


def quality_write(rows: list[AnnotatorQuality], at: datetime) -> None:
    """The Beta posteriors, one statement (was ``bulk_update``: a CASE per column)."""
    _rows_update(AnnotatorQuality, rows, {"alpha": "double precision", "beta": "double precision",
                                          "checks": "integer", "checks_correct": "integer"}, at)


def gating_states_write(states: list[GatingState], at: datetime) -> None:
    """The SPRT walks the batch moved (what ``gating.annotator_gate`` saved per check), one statement."""
    _rows_update(GatingState, states, {"llr": "double precision", "pauses": "integer", "standing": "text",
                                       "model_version": "text"}, at)


def memberships_gate_write(members: list[Membership]) -> None:
    """The standing reason and known-check rate the batch's gates set (what
    ``gating._record``'s reason save and ``workforce.services.membership_check_rate_set`` wrote per
    check), one statement. Standing changes are not deferred: they go through
    ``workforce.services.membership_standing_set`` at once (history, lease release)."""
    _rows_update(Membership, members, {"standing_reason": "text", "known_check_rate": "double precision"})
