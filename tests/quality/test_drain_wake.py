"""The resident drain woken through Redis (``CADRE_DRAIN_IDLE_MS``) and its trace
(``CADRE_DRAIN_TRACE``), issue 4/9.

A drain whose read found nothing waits on the wake list (``BLPOP``) with the flag held; a submit
that finds the flag set pushes a wake after its commit, so the drain reads that answer without a
Celery message; when the idle window passes, the protocol's last step (clear, then read once more)
still ends it, so no answer is stranded (``quality/services/drain.py``'s docstring)."""
from __future__ import annotations

import json
import logging
import os
import threading

import pytest
from django.db import connection
from django.db.models import Sum
from redis.exceptions import ConnectionError as RedisConnectionError

from quality import services as quality_services
from quality.models import AnnotatorQuality
from quality.services import drain
from quality.services.model import _histories
from tasks_app.models import Answer, Item
from tests.conftest import requires_postgres
from tests.quality.test_refresh_lock import _state
from tests.quality.test_scoring import answer, setup_project, worker


@pytest.fixture
def flag_client(monkeypatch):
    from celery import current_app

    from tasks_app.services import enqueue

    current_app.conf.task_always_eager = False  # the flag lives on the broker's Redis (the fixture restores it)
    # a flag key (and so a wake list) of this test's own: another run on the same Redis cannot touch them
    monkeypatch.setattr(enqueue, "drain_flag_key", lambda: f"cadre:score-drain:wake-test-{os.getpid()}")
    client = enqueue._flag_redis()
    if client is None:
        pytest.skip("needs a Redis broker")
    client.delete(enqueue.drain_flag_key(), enqueue.drain_wake_key())
    published = []
    monkeypatch.setattr(current_app, "signature", lambda *a, **kw: published.append(a) or _NoSend())
    yield client, published
    client.delete(enqueue.drain_flag_key(), enqueue.drain_wake_key())


class _NoSend:
    def delay(self):
        return None


def _scored_ids() -> set[int]:
    return set(Answer.objects.filter(scored_at__isnull=False).values_list("id", flat=True))


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_an_answer_committed_while_the_drain_waits_wakes_it_and_is_scored_without_a_celery_message(
        monkeypatch, flag_client):
    """The drain scores the first answer, finds nothing more and blocks in a real ``BLPOP``;
    another thread (its own connection) then commits an answer through the real submit path,
    whose signal finds the flag held: nothing is published, the push wakes the drain, which
    reads and scores the answer. The next wait passes with no wake: clear, final read, end."""
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=4, n_known=4)
    u = worker(project, f"wake-{project.pk}")
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    first = answer(project, u, items[0], "a")  # autocommit: its signal sets the flag and "publishes"
    assert len(published) == 1 and client.exists(enqueue.drain_flag_key())
    published.clear()
    assert not client.exists(enqueue.drain_wake_key())  # its SET succeeded: no wake
    waiting, late, waits = threading.Event(), [], []
    real_wait = enqueue.drain_wake_wait

    def wait(c, timeout):
        waiting.set()
        # the first wait long (the late submit must come while it blocks, however slow the
        # machine), the later ones short so the test ends soon
        waits.append(real_wait(c, timeout if not waits else 0.2))
        return waits[-1]

    def late_submit():
        try:
            assert waiting.wait(30)
            late.append(answer(project, u, items[1], "a"))
        finally:
            connection.close()

    monkeypatch.setattr(enqueue, "drain_wake_wait", wait)
    t = threading.Thread(target=late_submit)
    t.start()
    assert quality_services.pending_drain(chunk=8, idle=5.0) == 2
    t.join()
    assert waits == [True, False]  # woken once, then the idle window passed
    assert not published  # the late answer's submit found the flag held
    assert _scored_ids() >= {first.pk, late[0].pk}
    assert not client.exists(enqueue.drain_flag_key())


@requires_postgres
@pytest.mark.django_db
def test_an_answer_committed_between_the_last_wait_and_the_clear_is_read_by_the_final_read(monkeypatch, flag_client):
    """The idle window passes (no wake); before the drain clears the flag an answer commits and
    its signal finds the flag held (nothing published). The final read after the clear finds it,
    the drain claims the flag back and scores it, pops that answer's wake on its next wait (an
    empty read), and ends after the next window with the flag cleared."""
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=4, n_known=4)
    u = worker(project, "wake-fin")
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    assert enqueue.drain_flag_claim(client)  # as the submit that published this drain did
    late: list[Answer] = []
    clear = enqueue.drain_flag_clear

    def clear_after_a_late_submit(c=None):
        if not late:
            late.append(answer(project, u, items[1], "a"))  # committed now (on_commit never runs in this test) …
            enqueue._score_signal(late[0].pk)  # … and its signal finds the flag held
        clear(c)

    monkeypatch.setattr(enqueue, "drain_flag_clear", clear_after_a_late_submit)
    first = answer(project, u, items[0], "a")
    assert quality_services.pending_drain(chunk=8, idle=0.05) == 2
    assert not published
    assert _scored_ids() == {first.pk, late[0].pk}
    assert not client.exists(enqueue.drain_flag_key())
    assert client.llen(enqueue.drain_wake_key()) == 0


@requires_postgres
@pytest.mark.django_db
@pytest.mark.parametrize("redis_back", [True, False], ids=["redis-back", "redis-still-away"])
def test_a_redis_error_during_the_wait_ends_the_drain_through_the_final_read(monkeypatch, flag_client, caplog, redis_back):
    """Redis fails while the drain waits (after an answer committed and its signal went out):
    the drain does not raise, it counts the error as no wake and goes to the clear and the final
    read, which finds the answer. Redis back: it claims the flag again and scores it. Redis still
    away: its clear and claim fail too (logged) and it ends, the answer left to the sweep and the
    flag to its TTL, as the protocol fell back before the wake."""
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=4, n_known=4)
    u = worker(project, "wake-err")
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    assert enqueue.drain_flag_claim(client)
    late: list[Answer] = []

    def failing_wait(c, timeout):
        if not late:
            late.append(answer(project, u, items[1], "a"))
        raise RedisConnectionError("Connection reset by peer")

    def failing(c=None):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(enqueue, "drain_wake_wait", failing_wait)
    if not redis_back:
        monkeypatch.setattr(enqueue, "drain_flag_clear", failing)
        monkeypatch.setattr(enqueue, "drain_flag_claim", failing)
    first = answer(project, u, items[0], "a")
    with caplog.at_level(logging.WARNING, logger=drain.__name__):
        assert quality_services.pending_drain(chunk=8, idle=1.0) == (2 if redis_back else 1)
    assert _scored_ids() == ({first.pk, late[0].pk} if redis_back else {first.pk})
    assert "waiting for a wake failed" in caplog.text
    assert client.exists(enqueue.drain_flag_key()) != redis_back
    assert not published


@requires_postgres
@pytest.mark.django_db
def test_a_wait_longer_than_the_submit_clients_socket_timeout_passes_quietly(monkeypatch, flag_client, caplog):
    """redis-py applies the socket timeout to a ``BLPOP``'s reply: the drain's client must wait
    longer than its idle window (the submit side's 2 s would raise after 2 s of a 2.5 s wait)."""
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=2, n_known=2)
    u = worker(project, "wake-long")
    item = Item.objects.filter(project=project, is_known=False).first()
    assert enqueue.drain_flag_claim(client)
    waits = []
    real_wait = enqueue.drain_wake_wait
    monkeypatch.setattr(enqueue, "drain_wake_wait", lambda c, timeout: waits.append(real_wait(c, timeout)) or waits[-1])
    a = answer(project, u, item, "a")
    with caplog.at_level(logging.WARNING, logger=drain.__name__):
        assert quality_services.pending_drain(chunk=8, idle=2.5) == 1
    assert waits == [False] and "waiting for a wake failed" not in caplog.text
    assert Answer.objects.get(pk=a.pk).scored_at is not None
    assert not client.exists(enqueue.drain_flag_key()) and not published


@requires_postgres
@pytest.mark.django_db
def test_with_a_gather_the_drain_sleeps_after_a_wake_before_it_reads(monkeypatch, flag_client):
    """``CADRE_DRAIN_GATHER_MS``: a wake is followed by a sleep of that long, then the read (which
    then takes every answer committed meanwhile in one chunk); no sleep without a wake."""
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=4, n_known=4)
    u = worker(project, "wake-gather")
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    assert enqueue.drain_flag_claim(client)
    late: list[Answer] = []
    sleeps: list[float] = []
    real_wait = enqueue.drain_wake_wait

    def wait(c, timeout):
        if not late:
            late.append(answer(project, u, items[1], "a"))  # committed (on_commit never runs in this test) …
            enqueue._score_signal(late[0].pk)  # … its signal finds the flag held: a wake
        return real_wait(c, 0.05)

    def sleep(seconds):
        sleeps.append(seconds)
        late.append(answer(project, u, items[2], "a"))  # committed while the drain gathers: same chunk

    monkeypatch.setattr(enqueue, "drain_wake_wait", wait)
    monkeypatch.setattr(drain.time, "sleep", sleep)
    first = answer(project, u, items[0], "a")
    chunks = []
    score = drain._chunk_score
    monkeypatch.setattr(drain, "_chunk_score", lambda rows, *a, **kw: chunks.append(len(rows)) or score(rows, *a, **kw))
    assert quality_services.pending_drain(chunk=8, idle=1.0, gather=0.01) == 3
    assert sleeps == [0.01] and chunks == [1, 2]
    assert _scored_ids() == {first.pk} | {a.pk for a in late}
    assert not client.exists(enqueue.drain_flag_key()) and not published


@requires_postgres
@pytest.mark.django_db
def test_without_an_idle_window_the_drain_ends_at_the_first_empty_read(monkeypatch, flag_client):
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=2, n_known=2)
    u = worker(project, "wake-none")
    item = Item.objects.filter(project=project, is_known=False).first()
    monkeypatch.setattr(enqueue, "drain_wake_wait", lambda c, timeout: pytest.fail("waited with idle=0"))
    assert enqueue.drain_flag_claim(client)
    a = answer(project, u, item, "a")
    assert quality_services.pending_drain(chunk=8, idle=0) == 1
    assert Answer.objects.get(pk=a.pk).scored_at is not None
    assert not client.exists(enqueue.drain_flag_key()) and not published


def test_the_submit_signal_pushes_a_wake_only_when_a_drain_holds_the_flag_and_keeps_one(flag_client):
    """The first signal sets the flag (its drain is published: no wake needed); every later one
    finds it held and pushes a wake; the list never holds more than one and expires."""
    from tasks_app.services import enqueue

    client, _ = flag_client
    assert enqueue.drain_signal(client)
    assert not client.exists(enqueue.drain_wake_key())
    assert [enqueue.drain_signal(client) for _ in range(4)] == [False] * 4
    assert client.llen(enqueue.drain_wake_key()) == 1
    assert 0 < client.ttl(enqueue.drain_wake_key()) <= enqueue.DRAIN_WAKE_TTL
    assert 0 < client.ttl(enqueue.drain_flag_key()) <= enqueue.DRAIN_FLAG_TTL
    assert enqueue.drain_wake_wait(client, 0.05) and not enqueue.drain_wake_wait(client, 0.05)  # one pop empties it
    client.script_flush()  # as after a Redis restart: the script is loaded again
    assert not enqueue.drain_signal(client) and client.llen(enqueue.drain_wake_key()) == 1


@requires_postgres
@pytest.mark.django_db
def test_the_trace_writes_one_line_per_drain_with_its_phases(monkeypatch, tmp_path):
    path = tmp_path / "trace.jsonl"
    monkeypatch.setattr(drain, "TRACE_FILE", str(path))
    project = setup_project(n_items=3, n_known=3)
    u = worker(project, "trace")
    items = list(Item.objects.filter(project=project).order_by("id"))
    ids = {answer(project, u, it, it.known_label if it.is_known else "a").pk for it in items}
    assert quality_services.pending_drain(chunk=8, sent=123.0) == len(ids)
    (line,) = path.read_text().splitlines()
    d = json.loads(line)
    assert d["scored"] == len(ids) and d["sent"] == 123.0 and d["how"] == "empty"
    phases = [s[0] for s in d["spans"]]
    assert {"read", "regular", "checks", "lock", "final_read"} <= set(phases)
    assert {i for ph, _, _, got in d["spans"] if ph in ("regular", "checks") for i in got} == ids
    assert all(a <= b for _, a, b, _ in d["spans"])


@requires_postgres
@pytest.mark.django_db
def test_the_re_estimates_grouped_history_read_equals_one_aggregate_per_annotator():
    one, other = setup_project(n_items=2, n_known=2), setup_project(n_items=2, n_known=2)
    users = [worker(one, f"hist-{i}") for i in range(3)]
    for i, u in enumerate(users[:2]):
        AnnotatorQuality.objects.create(project=other, annotator=u, alpha=2, beta=1, checks=5 + i, checks_correct=3 + i)
    AnnotatorQuality.objects.create(project=one, annotator=users[0], alpha=2, beta=1, checks=9, checks_correct=9)  # this project's: not history
    got = _histories(one, [u.pk for u in users])
    for u in users:
        agg = AnnotatorQuality.objects.filter(annotator=u).exclude(project=one).aggregate(c=Sum("checks_correct"), n=Sum("checks"))
        assert got.get(u.pk, (0, 0)) == (int(agg["c"] or 0), int(agg["n"] or 0))
    assert got[users[1].pk] == (4, 6)


def _refresh_twin(project, *, during: bool, monkeypatch) -> dict:
    """History scored; the last hidden check (a right one) scored after the re-estimate
    (``during=False``) or while its fit runs unlocked (``during=True``)."""
    from quality.services import model as model_services
    from tests.quality.test_scoring_hot_path import _play

    _play(project, seed=5)
    rows = list(Answer.objects.filter(project=project).order_by("id"))
    last = [a for a in rows if a.is_check and a.label == Item.objects.get(pk=a.item_id).known_label][-1]
    for a in rows:
        if a.pk != last.pk:
            quality_services.answer_score(answer_id=a.pk)
    refit = model_services.refit
    if during:
        def scored_meanwhile(*args, **kw):
            assert quality_services.answer_score(answer_id=last.pk).scored
            return refit(*args, **kw)

        monkeypatch.setattr(model_services, "refit", scored_meanwhile)
    assert quality_services.project_model_refresh(project_id=project.pk) > 0
    monkeypatch.setattr(model_services, "refit", refit)
    if not during:
        assert quality_services.answer_score(answer_id=last.pk).scored
    # the refresh-lock tests' snapshot of the model state, without the items (not what this twin compares)
    state = _state(project, rows[0].pk)
    del state["items"]
    return state


@requires_postgres
@pytest.mark.django_db
def test_a_check_scored_while_the_re_estimate_fits_unlocked_is_carried_onto_its_rows(monkeypatch):
    """The re-estimate fits without the project's lock (issue 4: scorings no longer wait for the
    fit). A hidden check scored meanwhile moved its author's confusion row by one observation:
    the written rows are the re-estimate's plus that observation — the same end state as the
    check scored right after the re-estimate (state, rows, quality rows). Its watermark and
    answer count are the read's, so the next re-estimate fits that check like the others."""
    after = _refresh_twin(setup_project(n_items=6, n_known=12), during=False, monkeypatch=monkeypatch)
    during = _refresh_twin(setup_project(n_items=6, n_known=12), during=True, monkeypatch=monkeypatch)
    assert during["confusion"] == after["confusion"]
    assert during["watermark"] == after["watermark"]
    assert during["state"][:2] == after["state"][:2] and during["state"][4:] == after["state"][4:]
    assert during["state"][2] == pytest.approx(after["state"][2]) and during["state"][3] == pytest.approx(after["state"][3])
    assert during["quality"] == after["quality"]


@requires_postgres
@pytest.mark.django_db
def test_a_re_estimate_overtaken_by_a_newer_one_is_dropped(monkeypatch):
    from quality.models import ProjectModelState
    from quality.services import model as model_services
    from tests.quality.test_scoring_hot_path import _play

    project = setup_project(n_items=6, n_known=12)
    _play(project, seed=5)
    for a in Answer.objects.filter(project=project).order_by("id"):
        quality_services.answer_score(answer_id=a.pk)
    refit = model_services.refit
    calls = []

    def newer_meanwhile(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            assert quality_services.project_model_refresh(project_id=project.pk) > 0  # read after ours, written first
        return refit(*args, **kw)

    monkeypatch.setattr(model_services, "refit", newer_meanwhile)
    assert quality_services.project_model_refresh(project_id=project.pk) == 0
    assert ProjectModelState.objects.get(project=project).refreshes == 1


@requires_postgres
@pytest.mark.django_db
def test_the_refresh_task_skips_a_re_estimate_no_longer_due():
    from quality.models import ProjectModelState
    from quality.tasks import refresh_model
    from tests.quality.test_scoring_hot_path import _play

    project = setup_project(n_items=6, n_known=12)
    _play(project, seed=5)
    for a in Answer.objects.filter(project=project).order_by("id"):
        quality_services.answer_score(answer_id=a.pk)
    ProjectModelState.objects.filter(project=project).update(answers_scored=120, answers_at_refresh=0)
    assert refresh_model(project.pk) > 0  # due (120 since the last): runs
    assert ProjectModelState.objects.get(project=project).refreshes == 1
    assert refresh_model(project.pk) == 0  # the one just written covers it
    assert ProjectModelState.objects.get(project=project).refreshes == 1
