"""The drain's linger (``CADRE_DRAIN_LINGER_MS``) and trace (``CADRE_DRAIN_TRACE``), issue 4/9.

A lingering drain keeps the flag after a short chunk, waits, and reads again: answers whose
submits found the flag set meanwhile are read by it, and the protocol's last step (clear, then
read once more) still ends it, so no answer is stranded."""
from __future__ import annotations

import json

import pytest
from django.db.models import Sum

from quality import services as quality_services
from quality.models import AnnotatorQuality
from quality.services import drain
from quality.services.model import _histories
from tasks_app.models import Answer, Item
from tests.conftest import requires_postgres
from tests.quality.test_scoring import answer, setup_project, worker


@pytest.fixture
def flag_client(monkeypatch):
    from celery import current_app

    from tasks_app.services import enqueue

    current_app.conf.task_always_eager = False  # the flag lives on the broker's Redis (the fixture restores it)
    client = enqueue._flag_redis()
    if client is None:
        pytest.skip("needs a Redis broker")
    client.delete(enqueue.drain_flag_key())
    published = []
    monkeypatch.setattr(current_app, "signature", lambda *a, **kw: published.append(a))
    yield client, published
    client.delete(enqueue.drain_flag_key())


@requires_postgres
@pytest.mark.django_db
def test_a_lingering_drain_reads_answers_that_came_while_it_waited_and_still_ends_with_the_final_read(
        monkeypatch, flag_client):
    """First chunk short (one answer); during the linger a second answer commits and its submit
    finds the flag set (publishes nothing); the read after the linger scores it; the next
    linger finds nothing; then, between that empty read and the clear, a third commits the same
    way: the final read after the clear scores it. Nothing published, flag cleared at the end."""
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=4, n_known=4)
    u = worker(project, "linger")
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    assert enqueue.drain_flag_claim(client)  # as the submit that published this drain did
    late: list[Answer] = []
    sleeps: list[float] = []

    def submit(item) -> None:
        late.append(answer(project, u, item, "a"))
        enqueue._score_signal(late[-1].pk)  # finds the flag set: nothing published

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            submit(items[1])

    clear = enqueue.drain_flag_clear

    def clear_after_a_late_submit(c=None):
        if len(late) == 1:
            submit(items[2])
        clear(c)

    monkeypatch.setattr(drain.time, "sleep", sleep)
    monkeypatch.setattr(enqueue, "drain_flag_clear", clear_after_a_late_submit)
    first = answer(project, u, items[0], "a")
    assert quality_services.pending_drain(chunk=8, linger=0.005) == 3
    assert sleeps == [0.005, 0.005, 0.005]  # after each short chunk: the first, the lingered one, the final read's
    assert not published
    assert set(Answer.objects.filter(scored_at__isnull=False).values_list("id", flat=True)) == {first.pk} | {a.pk for a in late}
    assert not client.exists(enqueue.drain_flag_key())


@requires_postgres
@pytest.mark.django_db
def test_a_lingering_drain_that_finds_nothing_ends_like_one_without(monkeypatch, flag_client):
    from tasks_app.services import enqueue

    client, published = flag_client
    project = setup_project(n_items=2, n_known=2)
    u = worker(project, "linger-idle")
    item = Item.objects.filter(project=project, is_known=False).first()
    monkeypatch.setattr(drain.time, "sleep", lambda s: None)
    assert enqueue.drain_flag_claim(client)
    a = answer(project, u, item, "a")
    assert quality_services.pending_drain(chunk=8, linger=0.01) == 1
    assert Answer.objects.get(pk=a.pk).scored_at is not None
    assert not client.exists(enqueue.drain_flag_key()) and not published


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
