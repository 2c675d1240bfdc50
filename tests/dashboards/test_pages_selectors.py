"""Dashboard selectors on PostgreSQL against the hand-built seed (tests/dashboards/seed.py)."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from dashboards.selectors import annotators as ann
from dashboards.selectors.accuracy import accuracy_history
from dashboards.selectors.charts import accuracy_over_time, answers_per_hour
from dashboards.selectors.known import known_health
from dashboards.selectors.pace import project_pace, project_verdict, projects_overview
from dashboards.selectors.queues import project_queue
from quality import selectors as quality_selectors
from tests.dashboards.seed import hour_of, seed_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def seed():
    return seed_project()


def test_pace_throughput_and_eta(seed):
    pace = project_pace(project=seed.project, now=seed.now)
    assert (pace.items_total, pace.items_decided, pace.decided_window) == (10, 5, 4)
    in_window = [t for t in seed.answer_times if (seed.now - t).total_seconds() <= 24 * 3600]
    assert pace.answers_window == len(in_window) == 14
    assert pace.answers_per_hour == pytest.approx(14 / 24)
    assert pace.decided_per_hour == pytest.approx(4 / 24)
    assert pace.eta_hours == pytest.approx(5 / (4 / 24))  # 30 h for the five items left
    assert (pace.eta - seed.now).total_seconds() == pytest.approx(30 * 3600)


def test_queue_state(seed):
    q = project_queue(project=seed.project, now=seed.now)
    assert (q.items_open, q.items_held) == (5, 0)
    assert (q.leases_active, q.leases_expiring, q.leases_overdue) == (3, 1, 1)
    assert q.answers_unscored == 1 and q.oldest_unscored_at == seed.unscored_at
    assert 600 <= q.oldest_unscored_seconds < 660


def test_verdict_lists_every_reason(seed):
    p = seed.project
    pace, queue = project_pace(project=p, now=seed.now), project_queue(project=p, now=seed.now)
    claim, ban = quality_selectors.project_claim(project=p).claim, quality_selectors.project_ban_rate(project=p)
    verdict = project_verdict(project=p, pace=pace, claim=claim, ban=ban, queue=queue)
    assert verdict.on_track is False
    assert any(r.startswith("scoring behind: oldest unscored answer waited 10 min") for r in verdict.reasons)
    assert (ban.revoked, ban.n) == (1, 6) and not ban.flagged
    # Once the answer is scored the project is on track, with its pace as the reason.
    from tasks_app.models import Answer
    Answer.objects.filter(scored_at__isnull=True).update(scored_at=seed.now)
    verdict = project_verdict(project=p, pace=pace, claim=claim, ban=ban,
                              queue=project_queue(project=p, now=seed.now))
    assert verdict.on_track is True and verdict.reasons[0] == "0.2 items/h, ETA 30.0 h"


def test_verdict_stalled_and_not_running(seed):
    from tasks_app.models import Answer, Item, Project
    p = seed.project
    Item.objects.filter(project=p).update(decided_at=seed.now.replace(year=seed.now.year - 1))
    Answer.objects.filter(scored_at__isnull=True).update(scored_at=seed.now)
    pace, queue = project_pace(project=p, now=seed.now), project_queue(project=p, now=seed.now)
    claim, ban = quality_selectors.project_claim(project=p).claim, quality_selectors.project_ban_rate(project=p)
    verdict = project_verdict(project=p, pace=pace, claim=claim, ban=ban, queue=queue)
    assert verdict.on_track is False and "stalled: no item decided in the last 24 h, 5 left" in verdict.reasons
    p.phase = Project.Phase.PILOT_REVIEW
    assert project_verdict(project=p, pace=pace, claim=claim, ban=ban, queue=queue).on_track is None


def test_overview_has_every_project(seed):
    other = seed_project("Second project", prefix="two")
    rows = projects_overview(now=seed.now).rows
    assert [r.project.pk for r in rows] == [other.project.pk, seed.project.pk]
    row = rows[1]
    assert row.pace.items_decided == 5 and row.queue.leases_active == 3 and row.verdict.on_track is False


def test_answers_per_hour_chart_matches_the_seed(seed):
    spec = answers_per_hour(project=seed.project, now=seed.now)
    assert len(spec["rows"]) == 24 and spec["rows"][-1][0] == hour_of(seed.now)
    answers, checks, decided = Counter(map(hour_of, seed.answer_times)), Counter(map(hour_of, seed.check_times)), \
        Counter(map(hour_of, seed.decided_times))
    for hour, a, c, d in spec["rows"]:
        assert (a, c, d) == (answers[hour], checks[hour], decided[hour]), hour
    assert sum(r[1] for r in spec["rows"]) == 14  # the 30 h old answer is out
    assert [t["y"] for t in spec["traces"]] == ["answers", "checks", "decided"]


def test_accuracy_history_batches_then_engine(seed):
    points = accuracy_history(project=seed.project, now=seed.now)
    claim = quality_selectors.project_claim(project=seed.project).claim
    batches = [p for p in points if p.source.startswith("batch")]
    assert [(p.estimate, p.lower, p.upper, p.n, p.certified) for p in batches] == [
        (b["estimate"], b["lower"], b["upper"], b["n"], b["certified"]) for b in seed.batches]
    if claim.accuracy is not None:
        assert points[-1].source == "engine now" and points[-1].estimate == claim.accuracy
    spec = accuracy_over_time(project=seed.project, now=seed.now)
    assert [r[2] for r in spec["rows"][:2]] == [0.88, 0.93] and spec["rows"][0][-1] == 0.9


def test_known_health(seed):
    health = known_health(project=seed.project)
    assert health.known_total == 5 and health.mean_served == pytest.approx(7 / 5)
    rows = {r.external_id: r for r in health.rows}
    assert set(rows) == {seed.overused_item, seed.disputed_item}
    assert rows[seed.overused_item].served == 6 and rows[seed.overused_item].overused
    assert rows[seed.disputed_item].disputed and not rows[seed.disputed_item].overused
    assert (health.overused, health.disputed) == (1, 1)


def test_annotator_table_flags_rate_sort_filter(seed):
    rows = {r["username"]: r for r in ann.annotator_table(project=seed.project)}
    assert (rows["seed-u2"]["pasted"], rows["seed-u2"]["fast"], rows["seed-u2"]["flags"]) == (1, 2, 2)
    assert all(rows[f"seed-u{i}"]["flags"] == 0 for i in (1, 3, 4, 5, 6))
    assert rows["seed-u1"]["hourly"] == Decimal("12.00") and rows["seed-u1"]["currency"] == "USD"
    assert rows["seed-u1"]["accuracy"] == pytest.approx(19 / 20) and rows["seed-u1"]["answers"] == 6

    def names(**params):
        query, errors = ann.AnnotatorQuery.from_params(params)
        assert not errors
        return [r["username"] for r in ann.annotator_table(project=seed.project, query=query)]

    by_acc = names()
    assert by_acc[:3] == ["seed-u2", "seed-u3", "seed-u1"]  # 0.4, 0.7, 0.95; no posterior yet last
    assert names(sort="-accuracy")[:3] == ["seed-u1", "seed-u3", "seed-u2"]
    assert names(sort="-answers")[0] == "seed-u1"
    assert names(standing="revoked") == ["seed-u2"]
    assert names(flagged="1") == ["seed-u2"]
    assert names(q="U3") == ["seed-u3"]
    assert names(min_answers="4") == ["seed-u2", "seed-u1"]
    _, errors = ann.AnnotatorQuery.from_params({"sort": "salary", "standing": "boss", "min_answers": "-1"})
    assert set(errors) == {"sort", "standing", "min_answers"}


def test_overview_batched_reads_match_the_per_project_selectors(seed):
    """The page's grouped queries give each project what its own page computes."""
    from dashboards.claims import overview_claims

    other = seed_project("Second project", prefix="two")
    rows = {r.project.pk: r for r in projects_overview(now=seed.now).rows}
    for project in (seed.project, other.project):
        row = rows[project.pk]
        assert row.pace == project_pace(project=project, now=seed.now)
        assert row.queue == project_queue(project=project, now=seed.now)
        assert row.ban == quality_selectors.project_ban_rate(project=project)
        live = quality_selectors.project_claim(project=project).claim
        stored = overview_claims(projects=[project])[project.pk]
        assert (stored.accuracy, stored.lower, stored.upper, stored.n, stored.certified) == (
            live.accuracy, live.lower, live.upper, live.n, live.certified)
