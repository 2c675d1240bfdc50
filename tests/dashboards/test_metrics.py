"""/ops/metrics: Prometheus text parsed with prometheus_client's own parser; numbers checked
against the seed; access by bearer token or staff session."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from dashboards.selectors.metrics import LATENCY_BUCKETS
from dashboards.selectors.metrics import LATENCY_QUANTILES
from tasks_app.models import Answer, Item
from tests.dashboards.seed import seed_project

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-7f3a"


@pytest.fixture
def seed(settings):
    settings.CADRE_METRICS_TOKEN = TOKEN
    return seed_project()


def scrape(client, **headers) -> dict:
    resp = client.get(reverse("dashboards:metrics"), **headers)
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(resp.content.decode())}


def value(family, name, **labels):
    found = [s.value for s in family.samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, family.samples)
    return found[0]


def test_metrics_agree_with_the_seed(client, seed):
    fam = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    p = str(seed.project.pk)
    assert fam["cadre_answers_scored"].type == "counter"
    assert value(fam["cadre_answers_scored"], "cadre_answers_scored_total", project=p) == len(seed.latencies) == 14
    assert value(fam["cadre_answers_unscored"], "cadre_answers_unscored", project=p) == 1
    assert value(fam["cadre_items_open"], "cadre_items_open", project=p) == 5
    assert value(fam["cadre_leases_active"], "cadre_leases_active", project=p) == 3
    assert value(fam["cadre_leases_expiring"], "cadre_leases_expiring", project=p) == 1
    assert value(fam["cadre_revocations"], "cadre_revocations_total", project=p) == 1
    age = value(fam["cadre_oldest_unscored_answer_age_seconds"], "cadre_oldest_unscored_answer_age_seconds")
    assert 600 <= age < 700
    assert "cadre_answer_decision_latency_seconds" not in fam  # the cumulative histogram is gone (see below)
    assert value(fam["cadre_celery_queue_length"], "cadre_celery_queue_length") >= 0  # REDIS_URL is set in the suite


def test_metrics_move_when_an_answer_is_scored(client, seed):
    Answer.objects.filter(scored_at__isnull=True).update(scored_at=seed.unscored_at)  # latency 0
    fam = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    p = str(seed.project.pk)
    assert value(fam["cadre_answers_scored"], "cadre_answers_scored_total", project=p) == 15
    assert value(fam["cadre_oldest_unscored_answer_age_seconds"], "cadre_oldest_unscored_answer_age_seconds") == 0
    under = fam["cadre_answers_scored_recent_within_seconds"]
    assert value(under, "cadre_answers_scored_recent_within_seconds", le="0.1") == 1  # the 0 s one, in the last 15 min


def test_metrics_access(client, seed, settings):
    url = reverse("dashboards:metrics")
    resp = client.get(url)
    assert resp.status_code == 401 and resp["WWW-Authenticate"].startswith("Bearer")
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    client.force_login(seed.users["u1"])
    assert client.get(url).status_code == 403
    client.force_login(get_user_model().objects.create_user(username="ops-metrics", password="x", is_staff=True))
    assert client.get(url).status_code == 200
    client.logout()
    settings.CADRE_METRICS_TOKEN = ""  # unset: no token opens it
    assert client.get(url, HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_scrape_query_count_does_not_grow_with_projects(client, seed, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    client.get(reverse("dashboards:metrics"), **headers)  # the first scrape moves the counters' marks (dashboards.counters)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("dashboards:metrics"), **headers)
    seed_project("Another project", prefix="more")
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("dashboards:metrics"), **headers)
    assert len(two) == len(one) <= 9  # one grouped query per metric family


def _window_latencies(seconds: int) -> list[float]:
    """The test's own reading of the rule: answers scored in the last ``seconds``, their latency."""
    since = timezone.now() - timedelta(seconds=seconds)
    return [(s - c).total_seconds() for c, s in
            Answer.objects.filter(scored_at__gte=since).values_list("created_at", "scored_at")]


def test_decision_latency_is_a_trailing_window_summary_of_gauges(client, seed, settings):
    """Quantiles, counts within each bound and the sum over the answers scored in the window,
    as gauges whose HELP names the window (parsed with prometheus_client's parser); checked
    against the seed read here by the rule (numpy's linear percentile = percentile_cont)."""
    settings.CADRE_METRICS_LATENCY_WINDOW_SECONDS = 4 * 3600  # the seed's last ~3 h; not the answer 30 h ago
    expected = _window_latencies(4 * 3600)
    assert 0 < len(expected) < len(seed.latencies)
    fam = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    quantiles = fam["cadre_answer_decision_latency_recent_seconds"]
    under = fam["cadre_answers_scored_recent_within_seconds"]
    total = fam["cadre_answer_decision_latency_recent_sum_seconds"]
    for family in (quantiles, under, total):
        assert family.type == "gauge", family.name
        assert "last 14400 s" in family.documentation and "not cumulative" in family.documentation
    for q in LATENCY_QUANTILES:
        got = value(quantiles, "cadre_answer_decision_latency_recent_seconds", quantile=repr(q))
        assert got == pytest.approx(float(np.percentile(expected, q * 100)), abs=1e-6), q
    for bound in LATENCY_BUCKETS:
        n = value(under, "cadre_answers_scored_recent_within_seconds", le=repr(bound))
        assert n == sum(1 for lat in expected if lat <= bound), bound
    assert value(under, "cadre_answers_scored_recent_within_seconds", le="+Inf") == len(expected)
    assert value(total, "cadre_answer_decision_latency_recent_sum_seconds") == pytest.approx(sum(expected))


def test_decision_latency_does_not_read_the_history(client, seed, settings):
    """Answers scored before the window change nothing in the latency series: the scrape reads
    the window only (and on PostgreSQL the window is an index range of answer_scored_idx)."""
    from django.db import connection

    from dashboards.selectors import metrics

    settings.CADRE_METRICS_LATENCY_WINDOW_SECONDS = 900
    headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}

    def latency_series() -> list:
        fam = scrape(client, **headers)
        return [(s.name, s.labels, s.value) for name in ("cadre_answer_decision_latency_recent_seconds",
                                                         "cadre_answers_scored_recent_within_seconds",
                                                         "cadre_answer_decision_latency_recent_sum_seconds")
                for s in fam[name].samples]

    before = latency_series()
    old_item = Item.objects.filter(project=seed.project, is_known=False).first()
    long_ago = timezone.now() - timedelta(days=3)
    for i, user in enumerate(seed.users.values()):  # old, slow answers: they would move every quantile
        if not Answer.objects.filter(item=old_item, annotator=user).exists():
            a = Answer.objects.create(item=old_item, project=seed.project, annotator=user, label="positive",
                                      client_key=f"old-{i}", scored_at=long_ago + timedelta(hours=2))
            Answer.objects.filter(pk=a.pk).update(created_at=long_ago)
    assert latency_series() == before
    if connection.vendor == "postgresql":
        qs = Answer.objects.filter(scored_at__gte=timezone.now() - timedelta(seconds=900))
        with connection.cursor() as cursor:  # a tiny table favours a sequential scan: ask whether the index serves it
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = qs.explain()
            cursor.execute("SET LOCAL enable_seqscan = on")
        assert "answer_scored_idx" in plan, plan
        assert metrics.decision_latency().window_seconds == 900


def test_counters_read_a_tally_and_keep_counting_across_marks(client, seed, settings):
    """Review leftover: the two counters counted all history on every scrape. They are now a
    stored tally up to a mark plus the events after it (dashboards.counters): a scrape reads the
    tally (changing it shows), moving the mark changes no value, new events keep adding, and the
    values never go down (Prometheus counters)."""
    from dashboards import counters
    from dashboards.models import MetricMark, MetricTally
    from quality.models import GatingDecision

    headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    p = str(seed.project.pk)
    seen: list[tuple[float, float]] = []

    def both() -> tuple[float, float]:
        fam = scrape(client, **headers)
        got = (value(fam["cadre_answers_scored"], "cadre_answers_scored_total", project=p),
               value(fam["cadre_revocations"], "cadre_revocations_total", project=p))
        seen.append(got)
        return got

    assert both() == (14, 1)
    # the first scrape moved the marks to now - overlap: the seed's older events are in the tally
    mark = MetricMark.objects.get(name="answers_scored").through
    assert timezone.now() - timedelta(seconds=620) < mark < timezone.now() - timedelta(seconds=590)
    older = Answer.objects.filter(project=seed.project, scored_at__lte=mark).count()
    assert 0 < older <= 14 and MetricTally.objects.get(name="answers_scored", project=seed.project).value == older
    # the scrape reads the tally, not the history
    MetricTally.objects.filter(name="answers_scored", project=seed.project).update(value=older + 100)
    assert both() == (114, 1)
    MetricTally.objects.filter(name="answers_scored", project=seed.project).update(value=older)
    seen.clear()
    # new events count at once, live
    Answer.objects.filter(scored_at__isnull=True).update(scored_at=timezone.now())
    revoked = GatingDecision.objects.get(project=seed.project, standing="revoked")
    revoked.pk = None
    revoked.save()
    assert both() == (15, 2)
    # the mark moves past them (a later scrape, overlap 0): same values, now from the tally
    settings.CADRE_METRICS_COUNTER_OVERLAP_SECONDS = 0
    assert set(counters.counters_advance(now=timezone.now() + timedelta(seconds=1))) == {"answers_scored", "revocations"}
    assert counters.counters_advance(now=timezone.now() + timedelta(seconds=2)) == []  # at most once a minute
    assert MetricTally.objects.get(name="answers_scored", project=seed.project).value == 15
    assert MetricTally.objects.get(name="revocations", project=seed.project).value == 2
    assert both() == (15, 2)
    # after the mark: counted again live, then tallied
    late = Item.objects.create(project=seed.project, external_id="late", data={"text": "late"})
    Answer.objects.create(item=late, project=seed.project, annotator=seed.users["u1"], label="positive", client_key="late-1",
                          scored_at=timezone.now() + timedelta(seconds=5))
    assert both() == (16, 2)
    counters.counters_advance(now=timezone.now() + timedelta(minutes=2))
    assert both() == (16, 2)
    assert seen == sorted(seen)  # never down
    # a reader holding an older mark (a scrape moved it meanwhile) reads again with the new one: no double count
    assert counters.counter_values("answers_scored", through=counters.BEGINNING)[seed.project.pk] == 16
