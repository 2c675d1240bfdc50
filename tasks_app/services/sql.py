"""A cursor whose statements PostgreSQL prepares once per connection (issue 9, fourth round).

Django's psycopg backend binds client-side (``ClientCursor``): every statement is sent as text
with its values inlined, so PostgreSQL parses and plans it on every call. For the few raw-SQL
statements of the annotation loop (the pick, the one-statement submit, the lease reads and
insert, the task page's membership query) planning cost more than executing: the pick plans in
~1.2 ms and runs in ~0.25 ms (``bench/plans.py``, BENCHMARKS "fourth round"). ``prepared_cursor``
gives a server-binding psycopg cursor that prepares each statement on its first execute
(``prepare=True``), wrapped by Django exactly as ``connection.cursor()`` wraps its own — so
``connection.execute_wrappers``, ``CaptureQueriesContext`` / ``django_assert_num_queries``
and ``connection.queries`` see every statement (logged with its values inlined, as Django's own
cursor logs it) and database errors are Django's.

Decisions the issue left open:

* Only statements run through this cursor are prepared: the connection's ``prepare_threshold``
  (``None`` as Django connects, which makes psycopg prepare nothing at all) is raised to "never"
  so nothing else is prepared automatically. The global ``server_side_binding`` switch
  (``DB_SERVER_SIDE_BINDING``) stays as it was.
* Plans: generic, always (issue 9, fifth round). The first time a connection runs a statement
  here outside a transaction, it sets ``plan_cache_mode = force_generic_plan`` for its session —
  which only changes statements that are prepared, i.e. only these (Django's own cursor prepares
  nothing). Under the default ``auto`` PostgreSQL kept re-planning the next-task statement whose
  slot drew a hidden check at every call (its generic estimate looked costlier than a custom
  plan): 1.3 ms of planning for ~1 ms of execution (``bench/plans.py --stats``). The generic plans
  of every statement run here were read with EXPLAIN and are the custom ones: each walks a
  partial index from the pivot and probes per row (``picking``'s ``OFFSET 0``), so no parameter
  value changes the best plan. (Set outside a transaction because a rolled-back transaction
  would undo it.) The statements' selective conditions that
  partial indexes need (``status = 'open'``, ``NOT is_known``, ``answers_count = 0``,
  ``assigned < answers_wanted``) are literals in the SQL text, never parameters, so the generic
  plan matches the same partial indexes as a custom one (checked with EXPLAIN of
  ``force_generic_plan`` vs ``force_custom_plan``: the same index scans).
* Prepared statements live in the server session, so this needs session-level connections
  (direct, or a pooler in session mode). ``DB_PREPARE_HOT_STATEMENTS=0`` turns it off (plain
  Django cursor); SQLite always gets the plain cursor.
* psycopg deallocates all its prepared statements after a ROLLBACK (transaction or savepoint),
  DROP or ALTER it sees, and prepares them again on next use: correct inside transactions and
  savepoints, and rare on the loop (300 annotations: each statement prepared once, ~300 generic
  executions). PostgreSQL re-plans a prepared statement itself when a table it reads changes;
  the statements name their columns, so a column added later cannot change their result type.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

try:
    import psycopg
except ImportError:  # psycopg2 / SQLite only: never prepared
    psycopg = None

if psycopg is not None:
    from psycopg import _queries

    # psycopg converts a statement's placeholders (``%(name)s`` -> ``$1``) with a regex and caches the
    # result only for statements up to 4,096 characters: the next-task statement (5-6k, its pick legs
    # spelt out) was split again on every call (~4 % of the web worker's profile, issue 9). Every
    # statement run here is one of a few fixed texts, so a small cache keyed on the text holds them all.
    _query2pg_nocache = getattr(_queries, "_query2pg_nocache", None)

    @lru_cache(maxsize=64)
    def _query2pg_long(query: str, encoding: str):
        return _query2pg_nocache(query.encode(encoding), encoding)

    class _HotQuery(_queries.PostgresQuery):
        __slots__ = ()

        def convert(self, query, vars):
            if vars is None or type(query) is not str or _query2pg_nocache is None:
                return super().convert(query, vars)
            self.query, self._want_formats, self._order, self._parts = _query2pg_long(query, self._tx.encoding)
            self.dump(vars)

    class _PreparingCursor(psycopg.Cursor):
        """psycopg's server-binding cursor with ``prepare=True`` by default (Django's wrappers
        call ``execute(sql, params)`` and cannot pass it), converting its statements once."""

        _query_cls = _HotQuery

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)

    from django.db.backends.postgresql.base import CursorDebugWrapper
    from django.db.backends.utils import CursorWrapper

    class _LoggedPrepared(CursorDebugWrapper):
        """Django's debug wrapper (``connection.queries``, ``CaptureQueriesContext``,
        ``django_assert_num_queries``), logging the statement with its values inlined as the
        client-side cursor shows it (Django reads that text from a ``ClientCursor``; a server-binding
        cursor has none). Composed only when queries are being logged."""

        def execute(self, sql, params=None):
            shown = self.db.ops.compose_sql(sql, params) if params is not None else sql
            with self.debug_sql(shown, params, use_last_executed_query=False):
                return CursorWrapper.execute(self, sql, params)  # not the base's execute: it would log again


_NEVER = 2**31 - 1
_IDLE = psycopg.pq.TransactionStatus.IDLE if psycopg is not None else None


def _preparing(db=connection) -> bool:
    return psycopg is not None and db.vendor == "postgresql" and getattr(settings, "DB_PREPARE_HOT_STATEMENTS", True)


@contextmanager
def prepared_cursor() -> Iterator:
    """Like ``connection.cursor()`` (same wrappers, logging, errors, transaction), but the
    statements it executes are prepared on the server; elsewhere it is ``connection.cursor()``.
    (The connection is looked up once: each attribute read through the ``connection`` proxy is a
    thread-local lookup, and this runs three times per annotation.)"""
    db = connections[DEFAULT_DB_ALIAS]
    db.close_if_health_check_failed()
    db.ensure_connection()
    if not _preparing(db):
        with db.cursor() as cursor:
            yield cursor
        return
    conn = db.connection
    if conn.prepare_threshold is None:
        # Django connects with prepare_threshold=None, and psycopg then prepares nothing, not even
        # with prepare=True (which is also why DB_SERVER_SIDE_BINDING alone measured no gain). A
        # threshold never reached: Django's ClientCursor still never prepares, and a server-binding
        # cursor prepares only what asks for it (here: everything run through this cursor).
        conn.prepare_threshold = _NEVER
    if not getattr(conn, "_cadre_generic_plans", False) and conn.info.transaction_status == _IDLE:
        with db.wrap_database_errors:
            conn.execute("SET plan_cache_mode = force_generic_plan")
        conn._cadre_generic_plans = True
    with db.wrap_database_errors:
        raw = _PreparingCursor(conn)
    db.validate_thread_sharing()
    wrapped = _LoggedPrepared(raw, db) if db.queries_logged else db.make_cursor(raw)
    with wrapped as cursor:
        yield cursor
