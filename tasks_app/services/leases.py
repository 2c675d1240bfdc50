"""Leases: a new lease for the next task (the pick itself is ``picking``), release and expiry."""
from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Item, Lease, Project
from .picking import _id_range, _item_take, _take_legs
from .repeats import repeat_take, repeats_apply
from .rows import from_row
from .sql import prepared_cursor

log = logging.getLogger(__name__)


def _lease_seconds() -> int:
    return settings.CADRE_LEASE_SECONDS


EXPIRE_EVERY_SECONDS = 10


_next_expire_try = 0.0  # this process asks the shared throttle at most once a second


def _expired_leases_reclaim() -> None:
    """Return expired leases' items to the pool at most every few seconds per process
    group (a cache key throttles it), so it also happens in the embedded run, where no
    Celery beat runs; the periodic ``tasks_app.expire_leases`` does the same in production.
    A process asks the cache at most once a second (no Redis round trip on most next tasks)."""
    global _next_expire_try
    now = time.monotonic()
    if now < _next_expire_try:
        return
    _next_expire_try = now + 1.0
    try:
        due = cache.add("cadre:leases-expire", 1, timeout=EXPIRE_EVERY_SECONDS)
    except Exception:  # the cache (Redis) is down: handing out work matters more than this sweep
        log.warning("cache unavailable; expired-lease sweep skipped", exc_info=True)
        return
    if due:
        leases_expire()


def lease_next(
    *, project: Project, annotator, known_check_rate: float, rng: random.Random | None = None
) -> Lease | None:
    """Give the annotator their next item: their live lease if they have one, else a new
    lease — a hidden known-answer check with probability ``known_check_rate`` (the quality
    engine's choice, stored on the membership), otherwise a regular item. Returns None
    when there is nothing left for them. The caller checks that they may work.

    On PostgreSQL the usual cases (a live lease, or no lease at all and a new one) are ONE
    statement (``_lease_next_one_statement``); an expired lease to close first, or a hidden repeat
    due in a subjective project, takes the transaction below, which decides as before. The draw
    of the hidden-check slot (and, on the one-statement path, the scan's pivot) happens before
    the annotator's leases are read, so a reload also draws: the odds of each draw are unchanged."""
    rng = rng or random.Random()
    _expired_leases_reclaim()
    want_known = None
    if connection.vendor == "postgresql":
        want_known = rng.random() < known_check_rate
        if not (want_known and repeats_apply(project)):
            decided, lease = _lease_next_one_statement(project, annotator, want_known=want_known, rng=rng)
            if decided:
                return lease
    with transaction.atomic():
        now = timezone.now()
        mine = _mine_locked(project, annotator)
        live = [lease for lease in mine if lease.expires_at > now]
        if live:
            return live[0]
        _leases_close(mine, Lease.State.EXPIRED)
        if want_known is None:
            want_known = rng.random() < known_check_rate
        # subjective projects: the check slot serves a hidden repeat when one is due (repeats.py)
        item = repeat_take(project, annotator, rng=rng) if want_known and repeats_apply(project) else None
        if item is None:
            item = _item_take(project, annotator, known=want_known, rng=rng)
        if item is None and want_known:
            # No unseen check left for them: regular work continues.
            item = _item_take(project, annotator, known=False, rng=rng)
        elif item is None:
            return None  # no regular work: do not keep serving checks alone
        if item is None:
            return None
        lease = _lease_insert(item=item, project=project, annotator=annotator,
                              expires_at=timezone.now() + timedelta(seconds=_lease_seconds()))
    return lease


# Statement texts built once from the models' concrete fields (a new column is included).
_lease_sql: dict = {}

# The next task as ONE statement (issue 9, fifth round; was BEGIN, the annotator's active leases, the
# pick, the lease insert, COMMIT). ``mine`` locks the annotator's active leases (the lease rows, as
# ``_mine_locked``); only when there are none does ``pick`` run the pick's legs (a one-time filter:
# EXPLAIN shows the legs "never executed" otherwise), ``took`` counts the new lease on the item
# (``assigned + 1``) and ``made`` inserts the lease. The legs are the pick's own (``picking``): the
# hidden-check leg first when the slot drew a check, then the regular legs (a check with no unseen
# known item left falls through to regular work, as before); regular work alone never falls back to
# checks. Locking is what the transaction did, in the same order (the annotator's leases, then one
# item with SKIP LOCKED), held to the end of the statement, which in autocommit is its own
# transaction: no item is handed out beyond answers_wanted, no item twice to one annotator.
# Rows: ('m', lease, item) for each active lease found (then nothing was picked), or ('n', lease,
# item) for the new lease, or none (nothing left for them).
_NEXT_SQL = """WITH mine AS (
  SELECT {lcols_l}, {icols_i} FROM {lease} l JOIN {item} i ON i.id = l.item_id
  WHERE l.project_id = %(project)s AND l.annotator_id = %(annotator)s AND l.state = 'active'
  ORDER BY l.id FOR UPDATE OF l),
{legs},
pick AS (SELECT id FROM ({union}) legs WHERE NOT EXISTS (SELECT 1 FROM mine) LIMIT 1),
took AS (UPDATE {item} AS u SET assigned = u.assigned + 1 FROM pick WHERE u.id = pick.id RETURNING {icols_u}),
made AS (INSERT INTO {lease} ({lcols_insert}) SELECT {lvalues} FROM took RETURNING {lcols})
SELECT 'm', mine.* FROM mine
UNION ALL
SELECT 'n', made.*, {icols_took} FROM made JOIN took ON took.id = made.item_id"""


def _next_sql(want_known: bool) -> str:
    key = ("next", want_known)
    sql = _lease_sql.get(key)
    if sql is None:
        q = connection.ops.quote_name
        lease_cols = [f.column for f in Lease._meta.concrete_fields]
        item_cols = [f.column for f in Item._meta.concrete_fields]
        insert_cols = [c for c in lease_cols if c != Lease._meta.pk.column]
        legs, union = _take_legs(*((True, False) if want_known else (False,)))
        sql = _NEXT_SQL.format(
            lease=q(Lease._meta.db_table), item=q(Item._meta.db_table), legs=legs, union=union,
            lcols_l=", ".join(f"l.{q(c)}" for c in lease_cols),
            icols_i=", ".join(f"i.{q(c)} AS {q('i_' + c)}" for c in item_cols),
            icols_u=", ".join(f"u.{q(c)}" for c in item_cols),
            icols_took=", ".join(f"took.{q(c)}" for c in item_cols),
            lcols_insert=", ".join(q(c) for c in insert_cols),
            lvalues=", ".join("took.id" if c == Lease.item.field.column else f"%({c})s" for c in insert_cols),
            lcols=", ".join(q(c) for c in lease_cols),
        )
        _lease_sql[key] = sql
    return sql


def _lease_next_one_statement(project: Project, annotator, *, want_known: bool, rng: random.Random
                              ) -> tuple[bool, Lease | None]:
    """``(True, lease or None)`` when the one statement decided (a live lease, a new one, or
    nothing left); ``(False, None)`` when the transaction must (an expired lease to close, or a
    project without regular items to set the scan's pivot in)."""
    bounds = _id_range(project, False)
    if bounds is None:
        return False, None
    lo, hi = bounds
    now = timezone.now()
    new = Lease(project=project, annotator=annotator, created_at=now, expires_at=now + timedelta(seconds=_lease_seconds()))
    params = {f.column: f.get_db_prep_save(getattr(new, f.attname), connection)
              for f in Lease._meta.concrete_fields if not f.primary_key and f.column != Lease.item.field.column}
    # project_id / annotator_id are also the pick's parameters: the same values
    params.update(project=project.pk, annotator=annotator.pk, lo=lo, pivot=rng.randint(lo, hi))
    with prepared_cursor() as cursor:
        cursor.execute(_next_sql(want_known), params)
        rows = cursor.fetchall()
    if not rows:
        return True, None
    leases = [_lease_from_row(row[1:]) for row in rows]
    if rows[0][0] == "n":
        return True, leases[0]
    live = [lease for lease in leases if lease.expires_at > now]
    return (True, live[0]) if live else (False, None)


# Plain SQL for the two lease statements of every next task (issue 9, second round): the ORM spent
# more Python building them (compiling the select_related query, the model insert) than PostgreSQL
# spent running them. Built once from the models' concrete fields, so a new column is included.


def _lease_sql_text(kind: str) -> str:
    sql = _lease_sql.get(kind)
    if sql is None:
        q = connection.ops.quote_name
        lease_cols = [f.column for f in Lease._meta.concrete_fields]
        if kind == "mine":
            item_cols = [f.column for f in Item._meta.concrete_fields]
            sql = (f"SELECT {', '.join('l.' + q(c) for c in lease_cols)}, {', '.join('i.' + q(c) for c in item_cols)} "
                   f"FROM {q(Lease._meta.db_table)} l JOIN {q(Item._meta.db_table)} i ON i.id = l.item_id "
                   f"WHERE l.project_id = %s AND l.annotator_id = %s AND l.state = '{Lease.State.ACTIVE}' ORDER BY l.id FOR UPDATE OF l")
        else:
            cols = [c for c in lease_cols if c != Lease._meta.pk.column]
            sql = (f"INSERT INTO {q(Lease._meta.db_table)} ({', '.join(q(c) for c in cols)}) "
                   f"VALUES ({', '.join(['%s'] * len(cols))}) RETURNING {q(Lease._meta.pk.column)}")
        _lease_sql[kind] = sql
    return sql


def _lease_from_row(row) -> Lease:
    """A Lease (with its item cached) from a row of its concrete columns then the item's."""
    db = connections[DEFAULT_DB_ALIAS]
    lease, at = from_row(Lease, row, 0, db)
    Lease.item.field.set_cached_value(lease, from_row(Item, row, at, db)[0])
    return lease


def _mine_locked(project: Project, annotator) -> list[Lease]:
    """The annotator's active leases on the project, locked (the lease rows only), each with its item."""
    if connection.vendor != "postgresql":  # the embedded run (SQLite): no row locks, the ORM is fine
        return list(Lease.objects.select_related("item")
                    .filter(project=project, annotator=annotator, state=Lease.State.ACTIVE).order_by("id"))
    with prepared_cursor() as cursor:
        cursor.execute(_lease_sql_text("mine"), [project.pk, annotator.pk])
        return [_lease_from_row(row) for row in cursor.fetchall()]


def _lease_insert(*, item: Item, project: Project, annotator, expires_at) -> Lease:
    if connection.vendor != "postgresql":
        return Lease.objects.create(item=item, project=project, annotator=annotator, expires_at=expires_at)
    lease = Lease(item=item, project=project, annotator=annotator, expires_at=expires_at, created_at=timezone.now())
    fields = [f for f in Lease._meta.concrete_fields if not f.primary_key]
    with prepared_cursor() as cursor:
        cursor.execute(_lease_sql_text("insert"), [f.get_db_prep_save(getattr(lease, f.attname), connection) for f in fields])
        lease.pk = cursor.fetchone()[0]
    lease._state.adding = False
    lease._state.db = connection.alias
    return lease


def _leases_close(leases: list[Lease], state: str) -> int:
    """Close active leases and give their items back; items locked in id order."""
    if not leases:
        return 0
    item_ids = sorted({lease.item_id for lease in leases})
    list(Item.objects.select_for_update().filter(pk__in=item_ids).order_by("pk").values_list("pk", flat=True))
    closed = 0
    for lease in leases:
        n = Lease.objects.filter(pk=lease.pk, state=Lease.State.ACTIVE).update(state=state)
        if n:
            Item.objects.filter(pk=lease.item_id, assigned__gt=0).update(assigned=F("assigned") - 1)
            closed += 1
    return closed


def leases_release(*, project: Project, annotator) -> int:
    """Release every open lease of an annotator on a project (revocation, skip)."""
    with transaction.atomic():
        leases = list(
            Lease.objects.select_for_update().filter(project=project, annotator=annotator, state=Lease.State.ACTIVE)
        )
        return _leases_close(leases, Lease.State.RELEASED)


def leases_expire(*, now=None, limit: int = 5000) -> int:
    """Close leases past their expiry so their items can be handed out again."""
    now = now or timezone.now()
    with transaction.atomic():
        leases = list(
            Lease.objects.select_for_update(skip_locked=True)
            .filter(state=Lease.State.ACTIVE, expires_at__lte=now)
            .order_by("id")[:limit]
        )
        return _leases_close(leases, Lease.State.EXPIRED)
