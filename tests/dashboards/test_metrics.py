"""/ops/metrics: Prometheus text parsed with prometheus_client's own parser; numbers checked
against the seed; access by bearer token or staff session."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from dashboards.selectors.metrics import LATENCY_BUCKETS
from tasks_app.models import Answer
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
    hist = fam["cadre_answer_decision_latency_seconds"]
    assert hist.type == "histogram"
    for bound in LATENCY_BUCKETS:
        expected = sum(1 for lat in seed.latencies if lat <= bound)
        assert value(hist, "cadre_answer_decision_latency_seconds_bucket", le=repr(bound)) == expected, bound
    assert value(hist, "cadre_answer_decision_latency_seconds_bucket", le="+Inf") == 14
    assert value(hist, "cadre_answer_decision_latency_seconds_count") == 14
    assert value(hist, "cadre_answer_decision_latency_seconds_sum") == pytest.approx(sum(seed.latencies))
    assert value(fam["cadre_celery_queue_length"], "cadre_celery_queue_length") >= 0  # REDIS_URL is set in the suite


def test_metrics_move_when_an_answer_is_scored(client, seed):
    Answer.objects.filter(scored_at__isnull=True).update(scored_at=seed.unscored_at)  # latency 0
    fam = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    p = str(seed.project.pk)
    assert value(fam["cadre_answers_scored"], "cadre_answers_scored_total", project=p) == 15
    assert value(fam["cadre_oldest_unscored_answer_age_seconds"], "cadre_oldest_unscored_answer_age_seconds") == 0
    assert value(fam["cadre_answer_decision_latency_seconds"], "cadre_answer_decision_latency_seconds_bucket", le="0.1") == 1


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
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("dashboards:metrics"), **headers)
    seed_project("Another project", prefix="more")
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("dashboards:metrics"), **headers)
    assert len(two) == len(one) <= 9  # one grouped query per metric family
