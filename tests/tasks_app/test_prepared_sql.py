"""The hot statements' prepared cursor (issue 9, fourth round, ``tasks_app/services/sql.py``):
PostgreSQL really prepares them, Django still counts and logs each one (the query budgets cannot
be escaped through it), execute wrappers see them, and a failing statement inside a savepoint
rolls back only that savepoint.
How the statements are logged: with their values inlined, like Django's client-side cursor."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from tasks_app import services
from tasks_app.services.sql import prepared_cursor
from tests.conftest import requires_postgres
from tests.tasks_app.test_hot_path import project_with_checks, user


def _prepared_texts() -> list[str]:
    with connection.cursor() as c:
        c.execute("SELECT statement FROM pg_prepared_statements")
        return [r[0] for r in c.fetchall()]


@requires_postgres
@pytest.mark.django_db
def test_hot_statements_are_prepared_and_still_counted(django_assert_num_queries):
    project = project_with_checks()
    annotator = user()
    lease = services.lease_next(project=project, annotator=annotator, known_check_rate=0.0)
    assert lease is not None
    texts = _prepared_texts()
    # the next task: the annotator's leases, the pick and the lease insert in one prepared statement
    assert any("pick AS" in t and "SKIP LOCKED" in t and 'INSERT INTO "tasks_app_lease"' in t for t in texts), texts
    with CaptureQueriesContext(connection) as q, prepared_cursor() as c:
        c.execute("SELECT %s::int + 1", [41])
        assert c.fetchone() == (42,)
    assert len(q.captured_queries) == 1
    assert q.captured_queries[0]["sql"] == "SELECT 41::int + 1"  # logged with its values, as Django's own cursor logs
    with django_assert_num_queries(1), prepared_cursor() as c:
        c.execute("SELECT %s::int + 2", [40])


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_prepared_statements_get_generic_plans_from_the_first_call():
    """Outside a transaction (as under gunicorn) the first prepared statement sets the session's
    ``plan_cache_mode`` to generic, so no hot statement is planned again on each call; Django's
    own (unprepared) statements are not affected."""
    from django.db import close_old_connections

    connection.close()
    project = project_with_checks()
    annotator = user()
    for rate in (0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0):  # a hidden check and regular work, 7 times
        lease = services.lease_next(project=project, annotator=annotator, known_check_rate=rate)
        services.answer_submit(annotator=annotator, lease_id=lease.pk, label="a", client_key=f"k{lease.pk}", project=project)
    with connection.cursor() as c:
        c.execute("SHOW plan_cache_mode")
        assert c.fetchone() == ("force_generic_plan",)
        c.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        stats = c.fetchall()
    assert stats and all(custom == 0 and generic >= 1 for _, generic, custom in stats), stats
    close_old_connections()


@requires_postgres
@pytest.mark.django_db
def test_execute_wrappers_see_prepared_statements():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper), prepared_cursor() as c:
        c.execute("SELECT %(x)s::int", {"x": 7})
        assert c.fetchone() == (7,)
    assert seen == ["SELECT %(x)s::int"]


@requires_postgres
@pytest.mark.django_db
def test_failure_in_a_savepoint_rolls_back_only_the_savepoint():
    with connection.cursor() as c:
        c.execute("CREATE TEMP TABLE prep_t (id int PRIMARY KEY)")
    with transaction.atomic():
        with prepared_cursor() as c:
            c.execute("INSERT INTO prep_t VALUES (%s)", [1])
        # Django's error class, not psycopg's
        with pytest.raises(IntegrityError), transaction.atomic(), prepared_cursor() as c:
            c.execute("INSERT INTO prep_t VALUES (%s)", [1])
        with prepared_cursor() as c:  # the prepared statement is still usable after the rollback
            c.execute("INSERT INTO prep_t VALUES (%s)", [2])
            c.execute("SELECT count(*) FROM prep_t")
            assert c.fetchone() == (2,)


@requires_postgres
@pytest.mark.django_db
@override_settings(DB_PREPARE_HOT_STATEMENTS=False)
def test_switched_off_it_is_django_s_cursor():
    with prepared_cursor() as c:
        c.execute("SELECT %s::int", [5])
        assert c.fetchone() == (5,)
    assert "psycopg.ClientCursor" in str(type(c.cursor).__mro__)


@requires_postgres
@pytest.mark.django_db
def test_long_statements_are_converted_once_and_still_right():
    """psycopg caches its placeholder conversion only for statements up to 4,096 characters; the
    next-task statement is longer, so ``prepared_cursor`` caches it itself (issue 9). The cached
    conversion must still bind each call's own values, by name, repeated names included."""
    from tasks_app.services import sql

    pad = " ".join(f"/* {i:04d} */" for i in range(500))  # > 4,096 characters
    text = f"SELECT %(a)s::int + %(b)s::int, %(a)s::int {pad}"
    assert len(text) > 4096
    before = sql._query2pg_long.cache_info()
    for a, b in ((1, 2), (10, 20), (5, 0)):
        with prepared_cursor() as c:
            c.execute(text, {"a": a, "b": b})
            assert c.fetchone() == (a + b, a)
    after = sql._query2pg_long.cache_info()
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 2
