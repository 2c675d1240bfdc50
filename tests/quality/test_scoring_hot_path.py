"""The scoring hot path (issue 9): exact statement budgets per scored answer, and a backlog scored
in one transaction decides exactly what scoring the same answers one by one decides."""
from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality import services as quality_services
from quality.models import (
    AnnotatorConfusion,
    AnnotatorQuality,
    GatingDecision,
    GatingState,
    ProjectModelState,
)
from tasks_app.models import Answer, Item
from tests.conftest import requires_postgres
from tests.quality.test_scoring import answer, setup_project, worker
from workforce.models import Membership


def _statements(answer_id: int, **kw) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        outcome = quality_services.answer_score(answer_id=answer_id, **kw)
    assert outcome.scored
    sql = [q["sql"] for q in ctx.captured_queries]
    return len(sql), sql


@requires_postgres
@pytest.mark.django_db
def test_statement_budgets_per_scored_answer():
    """The answer and its project read (which path), savepoint (BEGIN in production), lock the
    answer, the project's advisory lock, the path's own statements, the answer's UPDATE, ONE
    state-row statement (count added in SQL), release (COMMIT). Before issue 9's rework: 20 / 14 /
    15; before the drain round: 17 / 12 / 14; on the ORM path before the single answer took the
    drain's (irev3): 15 / 12 / 14 (its answer lock read the project too; the drain's locks the
    answer row alone, so the single path reads the project first: one statement more, on a path
    that now carries only the sweep's and ops' re-sends). Under load the drain scores regular
    answers set-based, a whole chunk for about the statements of one
    (``test_the_drain_decides_exactly_as_one_by_one_in_its_order``)."""
    project = setup_project(n_items=6, n_known=12, max_answers=3)
    u1, u2 = worker(project, "hp1"), worker(project, "hp2")
    known = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    for u in (u1, u2):  # warm: quality, gating and confusion rows exist, the state row too
        quality_services.answer_score(answer_id=answer(project, u, known[0], known[0].known_label).pk)
        quality_services.answer_score(answer_id=answer(project, u, items[0], "a").pk)

    # hidden check (the drain's check batch, of one): item key, membership, quality, confusion and
    # gating rows, the answer's write, the quality, gating, membership and confusion writes
    n, sql = _statements(answer(project, u1, known[1], known[1].known_label).pk)
    assert n == 16, sql
    assert sum("projectmodelstate" in s for s in sql) == 1 and "answers_scored + 1" in sql[-2]
    # regular item, one answer: item lock, its answers, revoked?, confusion rows, state read, item write
    n, sql = _statements(answer(project, u1, items[1], "a").pk)
    assert n == 13, sql
    # the second agreeing answer decides it: + the confusion rows' write, the class prior read-modify-write
    n, sql = _statements(answer(project, u2, items[1], "a").pk)
    assert n == 15, sql
    assert Item.objects.get(pk=items[1].pk).status == Item.Status.ACCEPTED


def _play(project, seed: int) -> None:
    """The same answers, stored unscored (the test's transaction never commits, so nothing is enqueued)."""
    rng = random.Random(seed)
    users = [worker(project, f"p{project.pk}-w{i}", qualifier=(2, 2) if i else (1, 2)) for i in range(4)]
    known = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    for step in range(3):
        for i, u in enumerate(users):
            k = known[(step * 4 + i) % len(known)]
            good = i > 0 or rng.random() < 0.3  # the first annotator mostly wrong
            answer(project, u, k, k.known_label if good else ("a" if k.known_label == "b" else "b"))
            it = items[(step * 2 + i // 2) % len(items)]
            if not Answer.objects.filter(item=it, annotator=u).exists():
                answer(project, u, it, rng.choice("ab") if i == 0 else "a")


def _snapshot(project) -> dict:
    return {
        "items": list(Item.objects.filter(project=project).order_by("id").values_list(
            "status", "label", "p_correct", "answers_wanted")),
        "quality": sorted(AnnotatorQuality.objects.filter(project=project).values_list(
            "annotator__username", "alpha", "beta", "checks", "checks_correct")),
        "gating": sorted(GatingState.objects.filter(project=project).values_list("annotator__username", "llr", "standing")),
        "confusion": sorted(AnnotatorConfusion.objects.filter(project=project).values_list("annotator__username", "rows")),
        "state": ProjectModelState.objects.filter(project=project).values_list("answers_scored", "class_counts").get(),
        "correct": list(Answer.objects.filter(project=project).order_by("id").values_list("correct", flat=True)),
        "weight": list(Answer.objects.filter(project=project).order_by("id").values_list("weight", flat=True)),
        # what gating writes besides its walk: the standing, its reason, the check rate, each decision
        "members": sorted(Membership.objects.filter(project=project).values_list(
            "annotator__username", "standing", "standing_reason", "known_check_rate")),
        "decisions": sorted(GatingDecision.objects.filter(project=project).values_list(
            "annotator__username", "standing", "previous_standing", "reason", "checks", "checks_correct", "accuracy_lower")),
    }


def _strip(snap: dict, prefix: str) -> dict:
    """Usernames carry the project id; compare without it."""
    def fix(v):
        if isinstance(v, str) and v.startswith(prefix):
            return v[len(prefix):]
        if isinstance(v, (list, tuple)):
            return type(v)(fix(x) for x in v)
        return v
    return {k: fix(v) for k, v in snap.items()}


@requires_postgres
@pytest.mark.django_db
def test_a_backlog_scored_in_one_transaction_decides_exactly_as_one_by_one():
    """Regular answers waiting unscored go in one transaction with the first one's own; hidden
    checks are scored by their own tasks (never batched). The same answers scored one by one in
    that order end in exactly the same state."""
    one, batch = setup_project(n_items=6, n_known=12), setup_project(n_items=6, n_known=12)
    _play(one, seed=7)
    _play(batch, seed=7)

    def in_order(project):  # what the worker does: the regular backlog first, then each check
        rows = Answer.objects.filter(project=project).order_by("id")
        return [a.pk for a in rows if not a.is_check] + [a.pk for a in rows if a.is_check]

    for aid in in_order(one):
        quality_services.answer_score(answer_id=aid)
    ids = in_order(batch)
    regular = Answer.objects.filter(project=batch, is_check=False).count()
    n, sql = _statements(ids[0], backlog=len(ids))
    assert Answer.objects.filter(project=batch, scored_at__isnull=True).count() == len(ids) - regular
    assert not Answer.objects.filter(project=batch, scored_at__isnull=True, is_check=False).exists()
    assert sum("pg_advisory_xact_lock(" in s for s in sql) == 1  # exclusive: nothing else of the project interleaves
    assert sum("UPDATE \"tasks_app_answer\"" in s for s in sql) == 1  # every scored_at in one statement
    assert n < 12 * regular
    # their own tasks come later and find them scored; each check is scored alone, as the drain
    # scores a check batch (exclusive lock)
    assert quality_services.answer_score(answer_id=ids[regular - 1], backlog=10).detail == "already scored"
    for aid in ids[regular:]:
        n, sql = _statements(aid, backlog=10)
        assert sum("pg_advisory_xact_lock(" in s for s in sql) == 1
    assert _strip(_snapshot(one), f"p{one.pk}-") == _strip(_snapshot(batch), f"p{batch.pk}-")
    assert Item.objects.filter(project=batch, is_known=False).exclude(status=Item.Status.OPEN).exists()  # decisions made
    assert GatingState.objects.filter(project=batch).exists()


@requires_postgres
@pytest.mark.django_db
def test_a_batch_stays_inside_its_project_and_its_size():
    a, b = setup_project(n_items=6), setup_project(n_items=6)
    _play(a, seed=1)
    _play(b, seed=2)
    first = Answer.objects.filter(project=a, is_check=False).order_by("id").first()
    quality_services.answer_score(answer_id=first.pk, backlog=3)
    assert Answer.objects.filter(project=a, scored_at__isnull=False).count() == 4
    assert not Answer.objects.filter(project=a, scored_at__isnull=False, is_check=True).exists()
    assert not Answer.objects.filter(project=b, scored_at__isnull=False).exists()


@requires_postgres
@pytest.mark.django_db
def test_the_drain_decides_exactly_as_one_by_one_in_its_order(settings):
    """The coalesced drain (``pending_drain``, chunks of ``k``): per chunk a project's regular
    answers in one set-based transaction, then its checks alone. Scoring the same answers one by
    one in that order, each by the single task (``quality.score_answer``: the sweep's and ops'
    re-sends, batches of one of the same code since irev3), ends in exactly the same state, with
    far fewer statements."""
    from quality.tasks import score_answer

    settings.CADRE_SCORING_BATCH = 0  # the task alone, no backlog taken with it
    k = 5
    one, drained = setup_project(n_items=6, n_known=12), setup_project(n_items=6, n_known=12)
    for project in (one, drained):
        _play(project, seed=11)
        bad = worker(project, f"p{project.pk}-bad", qualifier=(1, 2))  # every check wrong: gated mid-chunk
        for key in Item.objects.filter(project=project, is_known=True).order_by("id")[:10]:
            answer(project, bad, key, "a" if key.known_label == "b" else "b")
    rows = list(Answer.objects.filter(project=one).order_by("id"))
    order = []
    for i in range(0, len(rows), k):
        chunk = rows[i:i + k]
        order += [a.pk for a in chunk if not a.is_check] + [a.pk for a in chunk if a.is_check]
    with CaptureQueriesContext(connection) as by_one:
        for aid in order:
            assert score_answer(aid) != "already scored"
    n_one = len(rows)
    with CaptureQueriesContext(connection) as ctx:
        assert quality_services.pending_drain(chunk=k) == n_one
    assert not Answer.objects.filter(scored_at__isnull=True).exists()
    assert _strip(_snapshot(one), f"p{one.pk}-") == _strip(_snapshot(drained), f"p{drained.pk}-")
    assert Item.objects.filter(project=drained, is_known=False).exclude(status=Item.Status.OPEN).exists()
    # the mostly-wrong annotator is gated on the way (a pause ends a checks transaction early)
    assert GatingDecision.objects.filter(project=drained, standing__in=["paused", "revoked"]).exists()
    # half of these answers are checks (scored alone either way), and first answers create rows
    assert len(ctx.captured_queries) < len(by_one.captured_queries) - 3 * (n_one // 2)


class _FakeAnswerModel:
    """An active answer-quality model whose P(correct) is a fixed function of the features (a
    trained one needs 200 check outcomes): enough to see that the drain's weights (features per
    answer, one prediction per batch) equal one-by-one scoring's (one prediction per answer)."""

    reference_p = 0.8

    def predict(self, rows):
        return [0.2 + (sum(abs(v) for v in r) * 7.3) % 0.75 for r in rows]

    def weight(self, row):
        from quality.engine.answer_model import answer_weight_from_p

        return answer_weight_from_p(self.predict([row])[0], self.reference_p)


@requires_postgres
@pytest.mark.django_db
def test_the_drain_weighs_and_decides_exactly_as_one_by_one_with_an_answer_model(monkeypatch):
    """Issue 9, fifth round: with an answer model active the drain computes every answer's
    features (one prepared statement each) and predicts once per batch; checks write their
    gating walks, reasons and check rates once per batch. Same end state as one by one, weights,
    gating decisions and memberships included."""
    from quality.services import answer_model

    monkeypatch.setattr(answer_model, "_active_model", lambda: _FakeAnswerModel())
    k = 7
    one, drained = setup_project(n_items=8, n_known=12), setup_project(n_items=8, n_known=12)
    for project in (one, drained):
        _play(project, seed=3)
        bad = worker(project, f"p{project.pk}-bad", qualifier=(1, 2))
        for key in Item.objects.filter(project=project, is_known=True).order_by("id")[:10]:
            answer(project, bad, key, "a" if key.known_label == "b" else "b")
    rows = list(Answer.objects.filter(project=one).order_by("id"))
    for i in range(0, len(rows), k):
        chunk = rows[i:i + k]
        for aid in [a.pk for a in chunk if not a.is_check] + [a.pk for a in chunk if a.is_check]:
            quality_services.answer_score(answer_id=aid)
    assert quality_services.pending_drain(chunk=k) == len(rows)
    snap_one, snap_drained = _strip(_snapshot(one), f"p{one.pk}-"), _strip(_snapshot(drained), f"p{drained.pk}-")
    assert [(i, a, b) for i, (a, b) in enumerate(zip(snap_one["weight"], snap_drained["weight"])) if a != b] == []  # (the drain before this round weighed an answer whose item an earlier one had decided)
    assert snap_one == snap_drained
    assert len({w for w in snap_drained["weight"] if w is not None}) > 3  # weighed, and not all alike
    assert snap_drained["decisions"]  # someone was gated on the way


@requires_postgres
@pytest.mark.django_db
def test_a_drain_with_nothing_to_do_reads_once():
    with CaptureQueriesContext(connection) as ctx:
        assert quality_services.pending_drain(chunk=8) == 0
    assert len(ctx.captured_queries) == 2  # the read, the final read (no flag without a Redis broker)


@requires_postgres
@pytest.mark.django_db
def test_an_answer_whose_submit_found_the_flag_set_is_read_after_the_drain_clears_it(monkeypatch):
    """The race the flag protocol closes: a drain has found nothing left; before it clears the
    flag, an answer commits and its submit's SET NX fails (a drain is running: nothing is
    published). The drain clears the flag, then reads once more, so it scores that answer."""
    from celery import current_app

    from tasks_app.services import enqueue

    project = setup_project(n_items=4, n_known=4)
    u = worker(project, "fin")
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    current_app.conf.task_always_eager = False  # the flag lives on the broker's Redis (the fixture restores it)
    client = enqueue._flag_redis()
    assert client is not None
    client.delete(enqueue.drain_flag_key())
    assert enqueue.drain_flag_claim(client)  # as the submit that published this drain did
    published = []
    monkeypatch.setattr(current_app, "signature", lambda *a, **kw: published.append(a))
    late = []
    clear = enqueue.drain_flag_clear

    def clear_after_a_late_submit(c=None):
        if not late:
            late.append(answer(project, u, items[1], "a"))  # committed now (on_commit never runs in this test) …
            enqueue._score_signal(late[0].pk)  # … and its signal finds the flag set
        clear(c)

    monkeypatch.setattr(enqueue, "drain_flag_clear", clear_after_a_late_submit)
    first = answer(project, u, items[0], "a")
    assert quality_services.pending_drain(chunk=8) == 2
    assert not published  # nothing was sent: the running drain took it
    assert set(Answer.objects.filter(scored_at__isnull=False).values_list("id", flat=True)) == {first.pk, late[0].pk}
    assert not client.exists(enqueue.drain_flag_key())  # cleared at the end: the next submit publishes


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_single_answer_held_by_another_scoring_is_left_to_it(monkeypatch):
    """The single path locks as the drain does (SKIP LOCKED): an answer whose row another
    scoring holds is reported, not waited for, and stays for that scoring; once free, it is scored."""
    import psycopg

    from tests.conftest import _test_database_url

    project = setup_project(n_items=4, n_known=4)
    u = worker(project, f"held-{project.pk}")
    it = Item.objects.filter(project=project, is_known=False).order_by("id").first()
    monkeypatch.setattr("tasks_app.services.answers.answer_scoring_enqueue", lambda answer_id: None)
    a = answer(project, u, it, "a")  # stored, not scored (its scoring signal is dropped)
    with psycopg.connect(_test_database_url()) as other:  # its transaction holds the row until the block ends
        other.execute("SELECT id FROM tasks_app_answer WHERE id = %s FOR NO KEY UPDATE", [a.pk])
        outcome = quality_services.answer_score(answer_id=a.pk)
        assert (outcome.scored, outcome.detail) == (False, "held by another scoring")
        assert Answer.objects.get(pk=a.pk).scored_at is None
    assert quality_services.answer_score(answer_id=a.pk).scored
