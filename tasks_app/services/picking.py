"""The next-task pick: which item a new lease goes to (plain SQL, SKIP LOCKED, spread start,
least-used hidden checks). ``leases.lease_next`` calls ``_item_take`` inside its transaction."""
from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import F, Max, Min

from ..models import Answer, Item, Lease, Project
from .rows import from_row
from .sql import prepared_cursor

_PICK_SQL = """
SELECT {cols} FROM {item} i
WHERE i.project_id = %s AND i.is_known = %s AND i.status = 'open' {extra}
  AND NOT EXISTS (SELECT 1 FROM {answer} a WHERE a.item_id = i.id AND a.annotator_id = %s)
  AND NOT EXISTS (SELECT 1 FROM {lease} l WHERE l.item_id = i.id AND l.annotator_id = %s AND l.state IN ('active', 'skipped'))
  AND i.id {op} %s {low}
ORDER BY i.id LIMIT 1 {lock}
"""
# Hidden checks: the least-used known items first, ties broken at random (issue 4: no known item
# overused while others sit idle). Use is ``assigned`` (answers + live leases, from anyone): a check
# handed out a moment ago counts at once, so annotators arriving one after another spread too;
# concurrent pickers skip rows others hold (SKIP LOCKED) and the random tie-break keeps them from
# queueing on one row. A known item can go to many annotators (one each): it has no answers_wanted
# cap. The sort reads the project's open known items this annotator has not seen: a few hundred
# at most, the known set is small by design.
_PICK_KNOWN_SQL = """
SELECT {cols} FROM {item} i
WHERE i.project_id = %s AND i.is_known AND i.status = 'open'
  AND NOT EXISTS (SELECT 1 FROM {answer} a WHERE a.item_id = i.id AND a.annotator_id = %s)
  AND NOT EXISTS (SELECT 1 FROM {lease} l WHERE l.item_id = i.id AND l.annotator_id = %s AND l.state IN ('active', 'skipped'))
ORDER BY i.assigned, random() LIMIT 1 {lock}
"""
# Regular items: those still wanting someone (assigned < answers_wanted), in progress first, then
# fresh; each condition is the predicate of a partial index (item_pick_progress_idx /
# item_pick_fresh_idx), so the scan reads only items that are eligible.
_PICK_GROUPS = {
    True: [""],
    False: [
        "AND i.answers_count > 0 AND i.assigned < i.answers_wanted",
        "AND i.answers_count = 0 AND i.assigned < i.answers_wanted",
    ],
}
_pick_sql_cache: dict[tuple, str] = {}


def _lock_clause() -> str:
    # SQLite (embedded run only) has no row locks: it serialises writers instead
    return "FOR UPDATE OF i SKIP LOCKED" if connection.vendor == "postgresql" else ""


def _item_sql_names() -> dict[str, str]:
    q = connection.ops.quote_name
    return {"cols": ", ".join(f"i.{q(f.column)}" for f in Item._meta.concrete_fields), "item": q(Item._meta.db_table),
            "answer": q(Answer._meta.db_table), "lease": q(Lease._meta.db_table), "lock": _lock_clause()}


# PostgreSQL: the whole pick is ONE statement. Each (group, direction) leg is a materialized CTE
# that locks at most one row (SKIP LOCKED); ``UNION ALL … LIMIT 1`` pulls the legs in order and
# stops at the first row, so later legs never run (EXPLAIN: "never executed"); the UPDATE counts
# the new lease on that row and returns it. One round trip instead of up to four selects + an
# update per next task (issue 9).
#
# ``OFFSET 0`` in the two NOT EXISTS (issue 9, fifth round) keeps each a per-row probe (a correlated
# SubPlan: one index lookup per candidate item, and a leg stops at its first eligible item). Without
# it PostgreSQL may turn them into anti-joins, and the generic plan of the prepared statement did:
# merge anti-joins that read the answer and lease ``item_id`` indexes from their start (1,090
# buffers, 0.5 ms for one pick at 3,700 answers, and growing with every answer ever given), and a
# hash anti-join over all of the annotator's answers for the hidden-check leg (growing with their
# history). With it: ~8 buffers for a regular pick, ~1 probe per open known item for a check,
# whatever the history (``bench/plans.py``; BENCHMARKS "PostgreSQL's share"). The lease probe is two,
# one per state, each on a partial index of (item, annotator) — the live-lease unique constraint and
# ``lease_skipped_idx`` — because a known item collects a lease from every annotator it is shown to:
# a probe through the ``item_id`` index read all of them (2,000 buffers per check pick at 400 checks).
_TAKE_LEG = """{name} AS MATERIALIZED (
  SELECT i.id FROM {item} i
  WHERE i.project_id = %(project)s AND {known} i.is_known AND i.status = 'open' {extra}
    AND NOT EXISTS (SELECT 1 FROM {answer} a WHERE a.item_id = i.id AND a.annotator_id = %(annotator)s OFFSET 0)
    AND NOT EXISTS (SELECT 1 FROM {lease} l WHERE l.item_id = i.id AND l.annotator_id = %(annotator)s AND l.state = 'active' OFFSET 0)
    AND NOT EXISTS (SELECT 1 FROM {lease} l WHERE l.item_id = i.id AND l.annotator_id = %(annotator)s AND l.state = 'skipped' OFFSET 0)
    {where}
  ORDER BY {order} LIMIT 1 FOR UPDATE OF i SKIP LOCKED)"""
_TAKE_SQL = """WITH {legs},
pick AS ({union} LIMIT 1)
UPDATE {item} AS u SET assigned = u.assigned + 1 FROM pick WHERE u.id = pick.id
RETURNING {ucols}"""


def _take_legs(*kinds: bool) -> tuple[str, str]:
    """The pick's legs for each kind in order (True: the hidden-check leg, False: the four regular
    legs) as ``(CTE definitions, UNION ALL of them)``; parameters ``project``, ``annotator`` and,
    with regular legs, ``pivot`` and ``lo``. ``leases`` builds its one-statement next task on these."""
    n = _item_sql_names()
    legs = []
    for known in kinds:
        if known:
            legs.append(dict(name="k", known="", extra="", where="", order="i.assigned, random()"))
        else:
            legs += [
                dict(name=f"g{g}{'a' if op == '>=' else 'b'}", known="NOT", extra=extra, order="i.id",
                     where="AND i.id >= %(pivot)s" if op == ">=" else "AND i.id < %(pivot)s AND i.id >= %(lo)s")
                for g, extra in enumerate(_PICK_GROUPS[False]) for op in (">=", "<")
            ]
    return (",\n".join(_TAKE_LEG.format(**n, **leg) for leg in legs),
            " UNION ALL ".join(f"SELECT id FROM {leg['name']}" for leg in legs))


def _take_sql(known: bool) -> str:
    key = ("take", known)
    sql = _pick_sql_cache.get(key)
    if sql is None:
        q = connection.ops.quote_name
        legs, union = _take_legs(known)
        sql = _TAKE_SQL.format(legs=legs, union=union, item=q(Item._meta.db_table),
                               ucols=", ".join(f"u.{q(f.column)}" for f in Item._meta.concrete_fields))
        _pick_sql_cache[key] = sql
    return sql


def _item_take(project: Project, annotator, *, known: bool, rng: random.Random) -> Item | None:
    """Pick one item for this annotator (as ``_pick_item`` orders them), lock it and count the
    lease on it (``assigned + 1``); None when there is none. One statement on PostgreSQL."""
    if connection.vendor != "postgresql":
        item = _pick_item(project, annotator, known=known, rng=rng)
        if item is not None:
            Item.objects.filter(pk=item.pk).update(assigned=F("assigned") + 1)
            item.assigned += 1
        return item
    params: dict[str, Any] = {"project": project.pk, "annotator": annotator.pk}
    if not known:
        bounds = _id_range(project, known)
        if bounds is None:
            return None
        params["lo"], hi = bounds
        params["pivot"] = rng.randint(params["lo"], hi)
    with prepared_cursor() as cursor:
        cursor.execute(_take_sql(known), params)
        row = cursor.fetchone()
    return _item_from_row(row) if row is not None else None


def _pick_sql(known: bool, group: int, op: str) -> str:
    key = (known, group, op)
    sql = _pick_sql_cache.get(key)
    if sql is None:
        sql = _PICK_SQL.format(**_item_sql_names(), extra=_PICK_GROUPS[known][group], op=op,
                               low="AND i.id >= %s" if op == "<" else "")
        _pick_sql_cache[key] = sql
    return sql


# (project id, known) -> (lo, hi, when read). The bounds only choose where the scan starts: the
# scan itself is unbounded (id >= pivot, then id < pivot), so bounds a minute old are still right
# (items uploaded since are found by the wrap-around); they save a query per next task.
_ID_RANGE_SECONDS = 60
_id_ranges: dict[tuple[int, bool], tuple[int, int, float]] = {}


def _id_range(project: Project, known: bool) -> tuple[int, int] | None:
    key = (project.pk, known)
    now = time.monotonic()
    cached = _id_ranges.get(key)
    if cached is not None and now - cached[2] < _ID_RANGE_SECONDS:
        return cached[0], cached[1]
    bounds = Item.objects.filter(project=project, is_known=known).aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        _id_ranges.pop(key, None)
        return None
    _id_ranges[key] = (bounds["lo"], bounds["hi"], now)
    return bounds["lo"], bounds["hi"]


def _item_from_row(row: Sequence[Any]) -> Item:
    """An Item from a row of its concrete columns in model order, with each field's database
    converter applied (JSONField parses its text), as a queryset would."""
    return from_row(Item, row, 0, connections[DEFAULT_DB_ALIAS])[0]


def _pick_item(project: Project, annotator, *, known: bool, rng: random.Random) -> Item | None:
    """Lock one open item for this annotator, or None.

    Hidden checks (``known``): the least-used known item the annotator has not seen
    (``_PICK_KNOWN_SQL``). Regular items: items already in progress (they need one more answer to be decided) before
    fresh ones, so work in flight gets finished; within each group the scan starts at a
    random id and wraps around, so concurrent annotators do not all queue on the lowest
    locked row (DESIGN.md measured ~6x throughput at 32 annotators). ``SKIP LOCKED``
    makes concurrent callers take different rows; ``assigned < answers_wanted`` makes
    sure no item goes to more people than it needs. Items the annotator answered or holds
    a live lease on are never handed to them again.

    Plain SQL (one prepared text per group and direction): building the equivalent ORM
    queries cost more Python time per next task than PostgreSQL spent running them
    (bench/load.py, issue 9).
    """
    if known:
        key = ("known-rotation",)
        sql = _pick_sql_cache.get(key) or _pick_sql_cache.setdefault(key, _PICK_KNOWN_SQL.format(**_item_sql_names()))
        with connection.cursor() as cursor:
            cursor.execute(sql, [project.pk, annotator.pk, annotator.pk])
            row = cursor.fetchone()
        return _item_from_row(row) if row is not None else None
    bounds = _id_range(project, known)
    if bounds is None:
        return None
    lo, hi = bounds
    pivot = rng.randint(lo, hi)
    with connection.cursor() as cursor:
        for group in range(len(_PICK_GROUPS[known])):
            for op in (">=", "<"):
                # The wrap-around part starts at the project's lowest id: when the planner walks
                # the primary key (a project that is most of the table), it must not read every
                # older project's rows first (EXPLAIN ANALYZE: 70,750 rows removed, 16 ms -> 0.1 ms).
                params = [project.pk, known, annotator.pk, annotator.pk, pivot] + ([lo] if op == "<" else [])
                cursor.execute(_pick_sql(known, group, op), params)
                row = cursor.fetchone()
                if row is not None:
                    return _item_from_row(row)
    return None
