"""The periodic re-estimate's lock (issue 4, latency): it reads from one snapshot without the
project's lock, fits and decides without it, and holds the lock only for a fixed handful of
set-based statements — with the result of "the re-estimate, then the answers scored meanwhile".

These run with committed transactions (``transaction=True``): the snapshot is a transaction of its
own (``refresh_sql.snapshot``), which is impossible inside pytest-django's per-test transaction, and
a scoring "meanwhile" is another connection's (a thread), as in production."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality import services as quality_services
from quality.models import AnnotatorConfusion, AnnotatorQuality, ProjectModelState
from quality.services import model as model_services
from tasks_app.models import Answer, Item
from tests.conftest import requires_postgres
from tests.quality.test_scoring import answer, setup_project, worker
from tests.quality.test_scoring_hot_path import _play

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _score_by_hand(monkeypatch):
    """Answers are stored unscored; each test scores them itself, in the order it needs."""
    monkeypatch.setattr("tasks_app.services.answers.answer_scoring_enqueue", lambda *a, **k: None)


def _on_other_connection(fn):
    """Run ``fn`` in a thread (its own database connection) and wait for it: it must finish while
    the caller is where it is (a re-estimate holding the project's lock would block it)."""
    out: list = []

    def run():
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            out.append(exc)
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert not t.is_alive(), "blocked: the re-estimate held the project's lock"
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def _state(project, first_id: int) -> dict:
    prefix = f"p{project.pk}-"
    return {
        "watermark": ProjectModelState.objects.get(project=project).answer_watermark - first_id,
        "confusion": sorted((u.removeprefix(prefix), r) for u, r in
                            AnnotatorConfusion.objects.filter(project=project).values_list("annotator__username", "rows")),
        "state": ProjectModelState.objects.filter(project=project).values_list(
            "answers_scored", "answers_at_refresh", "class_counts", "log_prior", "tau", "eps", "refreshes").get(),
        "quality": sorted((u.removeprefix(prefix), *rest) for u, *rest in AnnotatorQuality.objects.filter(project=project)
                          .values_list("annotator__username", "alpha", "beta", "checks", "checks_correct")),
        "items": list(Item.objects.filter(project=project).order_by("id").values_list(
            "status", "label", "p_correct", "answers_wanted")),
    }


def _same(got: dict, want: dict, *, items: bool = True) -> None:
    assert got["confusion"] == want["confusion"]
    assert got["watermark"] == want["watermark"]
    assert got["state"][:2] == want["state"][:2] and got["state"][4:] == want["state"][4:]
    assert got["state"][2] == pytest.approx(want["state"][2]) and got["state"][3] == pytest.approx(want["state"][3])
    assert got["quality"] == want["quality"]
    if items:
        assert got["items"] == want["items"]


def _twin(monkeypatch, pick, when: str, meanwhile=None) -> tuple[dict, dict]:
    """A fresh project with ``_play``'s history scored except the answer ``pick`` chooses, which
    is scored after the re-estimate (``when="after"``), on another connection in the middle of its
    read (``"read"``: after the answers, before the confusion rows) or while it fits (``"fit"``).
    ``meanwhile(project, last)``: another change made during the fit. Returns the end state and
    what the test needs to know of the run."""
    project = setup_project(n_items=6, n_known=12)
    _play(project, seed=5)
    rows = list(Answer.objects.filter(project=project).order_by("id"))
    last, held = pick(rows)
    for a in rows:
        if a.pk != last.pk and a.pk not in held:
            quality_services.answer_score(answer_id=a.pk)
    seen: dict = {}
    stored_rows, refit = model_services._stored_rows, model_services.refit

    def score_in_read(project_, ids):
        with connection.cursor() as c:
            c.execute("SHOW transaction_isolation")
            seen["isolation"] = c.fetchone()[0]
            c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
            seen["advisory_locks"] = c.fetchone()[0]
        assert _on_other_connection(lambda: quality_services.answer_score(answer_id=last.pk).scored)
        return stored_rows(project_, ids)

    def score_in_fit(*args, **kw):
        seen["before_scoring"] = Item.objects.get(pk=last.item_id).status
        assert quality_services.answer_score(answer_id=last.pk).scored
        seen["after_scoring"] = Item.objects.filter(pk=last.item_id).values_list("status", "label", "p_correct").get()
        if meanwhile is not None:
            seen["meanwhile"] = meanwhile(project, last)
        return refit(*args, **kw)

    if when == "read":
        monkeypatch.setattr(model_services, "_stored_rows", score_in_read)
    elif when == "fit":
        monkeypatch.setattr(model_services, "refit", score_in_fit)
    assert quality_services.project_model_refresh(project_id=project.pk) > 0
    monkeypatch.setattr(model_services, "_stored_rows", stored_rows)
    monkeypatch.setattr(model_services, "refit", refit)
    if when == "after":
        assert quality_services.answer_score(answer_id=last.pk).scored
    item_ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    if "meanwhile" in seen:
        seen["meanwhile"] = item_ids.index(seen["meanwhile"])
    return _state(project, rows[0].pk), {**seen, "item": item_ids.index(last.item_id)}


def _last_right_check(rows):
    return [a for a in rows if a.is_check and a.label == Item.objects.get(pk=a.item_id).known_label][-1], set()


def test_a_check_scored_on_another_connection_during_the_read_is_in_the_result_once(monkeypatch):
    """The read takes no lock (another connection's scoring finishes during it) and is one
    snapshot: the check committed between its answers read and its confusion-row read is wholly
    outside it, and the write carries its increment onto the re-estimate's rows — the end state
    of the check scored right after the re-estimate. (Read at READ COMMITTED, the rows would
    already hold the check that the answers and the state row did not: its increment lost.)"""
    after, _ = _twin(monkeypatch, _last_right_check, "after")
    during, seen = _twin(monkeypatch, _last_right_check, "read")
    assert seen["isolation"] == "repeatable read" and seen["advisory_locks"] == 0
    _same(during, after)


def test_a_check_scored_during_the_fit_gives_the_same_end_state_as_after(monkeypatch):
    after, _ = _twin(monkeypatch, _last_right_check, "after")
    during, _ = _twin(monkeypatch, _last_right_check, "fit")
    _same(during, after)


def _deciding_answer(rows):
    """The first answer of the last regular item answered; its later answers are never scored.
    Scoring it decides the item (``_play``'s history; asserted by the test)."""
    on = {}
    for a in rows:
        if not a.is_check:
            on.setdefault(a.item_id, []).append(a)
    ans = list(on.values())[-1]
    return ans[0], {a.pk for a in ans[1:]}


def _expert_relabels(project, last):
    """An expert's label on a decided item other than ``last``'s (written as one would be)."""
    item = (Item.objects.filter(project=project, is_known=False).exclude(status=Item.Status.OPEN)
            .exclude(pk=last.item_id).order_by("id").first())
    Item.objects.filter(pk=item.pk).update(label="b" if item.label == "a" else "a", p_correct=0.5)
    return item.pk


def test_items_decided_or_relabelled_during_the_fit_keep_that_decision(monkeypatch):
    """An item the snapshot saw open and a scoring decided meanwhile keeps that scoring's label
    and P: the re-estimate's own label for it came from fewer answers (before issue 4's change of
    the write it overwrote them). A decided item whose label an expert set meanwhile keeps the
    expert's (the relabel writes a row only if it is still as read). Every other item ends as when
    nothing was scored meanwhile."""
    after, _ = _twin(monkeypatch, _deciding_answer, "after")
    during, seen = _twin(monkeypatch, _deciding_answer, "fit", meanwhile=_expert_relabels)
    k, j = seen["item"], seen["meanwhile"]
    assert seen["before_scoring"] == Item.Status.OPEN and seen["after_scoring"][0] != Item.Status.OPEN  # it decided it
    assert during["items"][k][:3] == seen["after_scoring"]
    assert during["items"][j][2] == 0.5 and during["items"][j][1] != after["items"][j][1]
    assert [r for i, r in enumerate(during["items"]) if i not in (j, k)] == [r for i, r in enumerate(after["items"]) if i not in (j, k)]


def _reopen_world(tag: str):
    """``test_model_state``'s reopen world, scored: two weak annotators answered ``first`` "a"; the
    strong ones' and their own checks show them weak, so ``first`` is open."""
    project = setup_project(n_items=3, n_known=12, max_answers=5, target=0.9)
    weak = [worker(project, f"{tag}-w0", qualifier=(2, 2)), worker(project, f"{tag}-w1", qualifier=(2, 2))]
    strong = [worker(project, f"{tag}-s{i}", qualifier=(2, 2)) for i in range(3)]
    first = Item.objects.filter(project=project, is_known=False).order_by("id").first()
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    for u in strong:
        for item in knowns:
            answer(project, u, item, item.known_label)
    for u in weak:  # right on 7 of 12: close to guessing
        for j, item in enumerate(knowns):
            answer(project, u, item, item.known_label if j % 12 < 7 else ("a" if item.known_label == "b" else "b"))
    for u in weak:
        answer(project, u, first, "a")
    for a in Answer.objects.filter(project=project).order_by("id"):
        quality_services.answer_score(answer_id=a.pk)
    assert Item.objects.get(pk=first.pk).status == Item.Status.OPEN
    return project, first


def test_an_acceptance_the_snapshot_did_not_see_is_re_decided_under_the_lock(monkeypatch):
    """``first`` is accepted while the re-estimate fits (its snapshot saw the item open; written
    here as a scoring on stale rows, or an expert, would write it): the write re-decides it with
    the rows it writes and reopens it — as it reopens the same acceptance made before its read."""
    ends = []
    for during in (False, True):
        project, first = _reopen_world(str(during))
        refit = model_services.refit

        def accept(first=first):
            Item.objects.filter(pk=first.pk).update(status=Item.Status.ACCEPTED, label="a", p_correct=0.95)

        def accept_meanwhile(*args, accept=accept, refit=refit, **kw):
            accept()
            return refit(*args, **kw)

        if during:
            monkeypatch.setattr(model_services, "refit", accept_meanwhile)
        else:
            accept()
        quality_services.project_model_refresh(project_id=project.pk)
        monkeypatch.setattr(model_services, "refit", refit)
        ends.append(Item.objects.filter(pk=first.pk).values_list("status", "label", "p_correct", "answers_wanted").get())
    assert ends[0] == ends[1] and ends[0][:3] == (Item.Status.OPEN, None, None), ends


def test_the_write_sends_a_fixed_number_of_statements_whatever_the_project_holds(monkeypatch):
    """Under the lock: a handful of statements, not one per decided item or annotator (the
    relabel and the rows are one UPDATE each). Counted from the lock to the write's end, on two
    projects of different sizes."""
    counts = []
    for n_items in (4, 12):
        project = setup_project(n_items=n_items, n_known=12)
        users = [worker(project, f"n{n_items}-{i}") for i in range(3 if n_items == 4 else 5)]
        for u in users:
            for item in Item.objects.filter(project=project).order_by("id"):
                item.refresh_from_db()
                if item.is_known or item.status == Item.Status.OPEN:
                    quality_services.answer_score(answer_id=answer(project, u, item, item.known_label or "a").pk)
        assert Item.objects.filter(project=project, is_known=False).exclude(status=Item.Status.OPEN).count() >= n_items // 2
        write = model_services._refresh_write

        def counted(*args, write=write, **kw):
            with CaptureQueriesContext(connection) as ctx:
                out = write(*args, **kw)
            counts.append(len(ctx.captured_queries))
            return out

        monkeypatch.setattr(model_services, "_refresh_write", counted)
        assert quality_services.project_model_refresh(project_id=project.pk) > 0
        monkeypatch.setattr(model_services, "_refresh_write", write)
    assert counts[0] == counts[1] and counts[0] <= 10, counts
