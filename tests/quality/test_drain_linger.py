"""The drain's linger (``CADRE_DRAIN_LINGER_MS``) and trace (``CADRE_DRAIN_TRACE``), issue 4/9.

A lingering drain keeps the flag after a short chunk, waits, and reads again: answers whose
submits found the flag set meanwhile are read by it, and the protocol's last step (clear, then
read once more) still ends it, so no answer is stranded."""
from __future__ import annotations

import json
import os

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
    # a flag key of this test's own: another run on the same Redis (its submits) cannot set it
    monkeypatch.setattr(enqueue, "drain_flag_key", lambda: f"cadre:score-drain:linger-test-{os.getpid()}")
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
    from quality.models import AnnotatorConfusion, ProjectModelState

    prefix = f"p{project.pk}-"
    first_id = rows[0].pk
    return {
        "watermark": ProjectModelState.objects.get(project=project).answer_watermark - first_id,
        "confusion": sorted((u.removeprefix(prefix), r) for u, r in
                            AnnotatorConfusion.objects.filter(project=project).values_list("annotator__username", "rows")),
        "state": ProjectModelState.objects.filter(project=project).values_list(
            "answers_scored", "answers_at_refresh", "class_counts", "log_prior", "tau", "eps", "refreshes").get(),
        "quality": sorted((u.removeprefix(prefix), *rest) for u, *rest in AnnotatorQuality.objects.filter(project=project)
                          .values_list("annotator__username", "alpha", "beta", "checks", "checks_correct")),
    }


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
