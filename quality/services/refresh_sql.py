"""The periodic re-estimate's own reads and writes (issue 4, ``model.project_model_refresh``): a
snapshot transaction for its input read, and the set-based statements of its write, which runs
under the project's exclusive advisory lock, the lock every scoring of the project waits for.

The write's statements are one text each whatever the project's size (array parameters through
``unnest``), run through ``tasks_app.services.sql.prepared_cursor`` like the drain's
(``hot_sql``): under the lock the re-estimate sends a fixed, small number of statements, and
the rows it sends are only those whose value changes. SQLite (the embedded run, one writer at
a time) gets the ORM's forms.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from tasks_app.models import Item
from tasks_app.services.sql import prepared_cursor

from ..models import AnnotatorConfusion


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@contextmanager
def snapshot() -> Iterator[bool]:
    """A transaction whose reads all see one snapshot, taken without any lock: ``REPEATABLE READ,
    READ ONLY`` on PostgreSQL (every statement sees the data committed when the first one ran,
    so a scoring that commits in the middle of the read is wholly in it or wholly out of it).
    Yields True then.

    ``SET TRANSACTION`` has to be the transaction's first statement, so this works only when the
    caller is not already in a transaction (the Celery task's case). Inside one (a caller's
    ``atomic``, pytest-django's per-test transaction) it yields False and opens a savepoint:
    the reads then run at the caller's isolation, and the caller must make them consistent
    itself (``project_model_refresh`` takes the project's exclusive lock for the read then, as
    before issue 4's change). Read only: a write in it fails, so nothing the read does can be
    half-written. SQLite: a plain transaction (one writer at a time; False)."""
    if not _postgres() or connection.in_atomic_block:
        with transaction.atomic():
            yield False
        return
    with transaction.atomic():
        with connection.cursor() as cursor:  # Django's plain cursor: prepared_cursor may send a SET first
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield True


def decided_items(project_id: int) -> dict[int, tuple]:
    """Every decided regular item (status other than open) as (status, label, p_correct,
    answers_count): the re-estimate's relabel and reopen passes compare against these."""
    if not _postgres():
        return {i: rest for i, *rest in Item.objects.filter(project_id=project_id, is_known=False)
                .exclude(status=Item.Status.OPEN).values_list("id", "status", "label", "p_correct", "answers_count")}
    with prepared_cursor() as c:
        c.execute(f"SELECT id, status, label, p_correct, answers_count FROM {_t(Item)} "
                  "WHERE project_id = %s AND NOT is_known AND status <> 'open'", [project_id])
        return {i: tuple(rest) for i, *rest in c.fetchall()}


def accepted_items(project_id: int) -> dict[int, int]:
    """The accepted regular items now, with their answer counts (the write's one read of items:
    which acceptances the snapshot did not see)."""
    if not _postgres():
        return dict(Item.objects.filter(project_id=project_id, is_known=False, status=Item.Status.ACCEPTED)
                    .values_list("id", "answers_count"))
    with prepared_cursor() as c:
        c.execute(f"SELECT id, answers_count FROM {_t(Item)} "
                  "WHERE project_id = %s AND NOT is_known AND status = 'accepted'", [project_id])
        return dict(c.fetchall())


def confusion_rows_write(project_id: int, rows: dict[int, dict]) -> None:
    """Replace these annotators' confusion rows (annotator id -> rows JSON), one statement."""
    if not rows:
        return
    if not _postgres():
        for a, r in rows.items():
            AnnotatorConfusion.objects.filter(project_id=project_id, annotator_id=a).update(rows=r)
        return
    ids = sorted(rows)
    with prepared_cursor() as c:
        c.execute(f"UPDATE {_t(AnnotatorConfusion)} AS c SET rows = v.rows, updated_at = now() "
                  "FROM unnest(%s::bigint[], %s::jsonb[]) AS v(annotator_id, rows) "
                  "WHERE c.project_id = %s AND c.annotator_id = v.annotator_id",
                  [ids, [json.dumps(rows[a]) for a in ids], project_id])


def items_relabel(changes: list[tuple]) -> int:
    """Set (label, p_correct) of decided regular items, each only if the row is still as the
    re-estimate read it: ``changes`` = (id, label, p, status read, label read, p read, answers
    read). An item that a scoring, a reopen or an expert decided since keeps that decision. One
    statement; returns how many rows changed."""
    if not changes:
        return 0
    if not _postgres():
        n = 0
        for pk, label, p, status, old_label, old_p, count in changes:
            n += Item.objects.filter(pk=pk, is_known=False, status=status, label=old_label, p_correct=old_p,
                                     answers_count=count).update(label=label, p_correct=p)
        return n
    cols = list(zip(*changes))
    with prepared_cursor() as c:
        c.execute(
            f"UPDATE {_t(Item)} AS i SET label = v.label, p_correct = v.p "
            "FROM unnest(%s::bigint[], %s::text[], %s::double precision[], %s::text[], %s::text[], "
            "%s::double precision[], %s::integer[]) AS v(id, label, p, status, old_label, old_p, n) "
            "WHERE i.id = v.id AND NOT i.is_known AND i.status = v.status AND i.answers_count = v.n "
            "AND i.label IS NOT DISTINCT FROM v.old_label AND i.p_correct IS NOT DISTINCT FROM v.old_p",
            [list(col) for col in cols],
        )
        return c.rowcount
