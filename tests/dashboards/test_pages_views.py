"""Dashboard pages, chart JSON and CSV through the real HTTP client (staff session)."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from dashboards.selectors.charts import answers_per_hour
from tests.dashboards.seed import seed_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def seed():
    return seed_project()


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_user(username="ops-viewer", password="x", is_staff=True))
    return client


def test_ops_index_and_old_project_url_redirect_to_the_dashboards(staff_client, seed):
    resp = staff_client.get(reverse("ops:index"))
    assert resp.status_code == 302 and resp.url == reverse("dashboards:overview")
    resp = staff_client.get(reverse("ops:project", args=[seed.project.pk]))
    assert resp.status_code == 302 and resp.url == reverse("dashboards:project", args=[seed.project.pk])
    assert staff_client.get(reverse("ops:project", args=[999999])).status_code == 404


def test_overview_page(staff_client, seed):
    html = staff_client.get(reverse("dashboards:overview")).content.decode()
    row = re.search(rf'<tr data-project="{seed.project.pk}">(.*?)</tr>', html, re.DOTALL).group(1)
    assert "off track" in row and "scoring behind" in row and "Production" in row
    assert ">5</td>" in row and ">10</td>" in row and ">50%</td>" in row  # decided, items, progress


def test_project_page_sections(staff_client, seed):
    resp = staff_client.get(reverse("dashboards:project", args=[seed.project.pk]))
    html = resp.content.decode()
    assert resp.status_code == 200
    for text in ("Off track", "SEED-REVOKED", "paused → revoked", seed.overused_item, seed.disputed_item,
                 'id="q-expiring">1<', 'id="q-leases">3<', 'id="q-overdue">1<', "12.00 USD",
                 "2 (1 pasted, 2 fast)", reverse("ops:expert_queue", args=[seed.project.pk]),
                 reverse("workforce:ops_appeals"), reverse("audits:list"), "vendor/plotly.min.js", "dashboards/charts.js"):
        assert text in html, text
    spec = json.loads(re.search(r'<script id="chart-answers-per-hour-spec" type="application/json">(.*?)</script>',
                                html, re.DOTALL).group(1))
    assert spec["rows"] == answers_per_hour(project=seed.project)["rows"]


def test_project_annotators_sorted_and_filtered_without_js(staff_client, seed):
    url = reverse("dashboards:project", args=[seed.project.pk])

    def order(**params):
        html = staff_client.get(url, params).content.decode()
        return re.findall(r'<tr data-username="([^"]+)">', html)

    assert order()[:3] == ["seed-u2", "seed-u3", "seed-u1"]
    assert order(sort="-accuracy")[:3] == ["seed-u1", "seed-u3", "seed-u2"]
    assert order(standing="warned") == ["seed-u3"]
    assert order(flagged="1", sort="username") == ["seed-u2"]
    html = staff_client.get(url, {"sort": "-accuracy"}).content.decode()
    assert 'aria-sort="descending"' in html and "sort=accuracy" in html  # clicking again flips it
    resp = staff_client.get(url, {"sort": "salary", "min_answers": "x"})
    assert resp.status_code == 400
    assert "sort: sort by one of" in resp.content.decode() and "min_answers: min_answers is a whole number" in resp.content.decode()


def test_chart_json_and_csv_agree(staff_client, seed):
    for chart in ("answers-per-hour", "accuracy-over-time"):
        data = staff_client.get(reverse("dashboards:chart_json", args=[seed.project.pk, chart])).json()
        resp = staff_client.get(reverse("dashboards:chart_csv", args=[seed.project.pk, chart]))
        assert resp["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(resp.content.decode())))
        assert rows[0] == [c["label"] for c in data["columns"]]
        assert rows[1:] == [["" if v is None else str(v) for v in r] for r in data["rows"]]
    assert staff_client.get(reverse("dashboards:chart_json", args=[seed.project.pk, "nope"])).status_code == 404
    assert staff_client.get(reverse("dashboards:chart_csv", args=[999999, "answers-per-hour"])).status_code == 404


@pytest.mark.parametrize("name,args", [("overview", []), ("project", [0]), ("chart_json", [0, "answers-per-hour"]),
                                       ("chart_csv", [0, "accuracy-over-time"])])
def test_pages_refused_to_anonymous_and_non_staff(client, seed, name, args):
    url = reverse(f"dashboards:{name}", args=[seed.project.pk if a == 0 else a for a in args])
    resp = client.get(url)
    assert resp.status_code == 302 and resp.url.startswith("/login/")
    client.force_login(seed.users["u1"])
    assert client.get(url).status_code == 403


def test_project_page_queries_do_not_grow_with_annotators(staff_client, seed):
    """The annotator table reads in bulk: more annotators, the same number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests import factories

    url = reverse("dashboards:project", args=[seed.project.pk])
    staff_client.get(url)  # warm: the session, and the engine's model rows created on first read
    with CaptureQueriesContext(connection) as before:
        staff_client.get(url)
    for i in range(5):
        factories.annotator_working(seed.project, factories.annotator(username=f"extra-{i}"))
    with CaptureQueriesContext(connection) as after:
        staff_client.get(url)
    assert len(after) == len(before), (len(before), len(after))
    print(f"project dashboard: {len(before)} queries")


def _projects(n: int) -> None:
    from tasks_app.models import Organization
    from tests import factories

    org = Organization.objects.create(name=f"Org of {n} more")
    for i in range(n):
        factories.make_project(org, n_items=2, n_examples=10, name=f"Bulk project {n}-{i}")


def test_overview_queries_do_not_grow_with_the_projects(staff_client, settings):
    """3 or 30 projects on the page: the same queries (grouped reads, stored claims). The first
    view stores each claim (recomputed per project, once per CADRE_OVERVIEW_CLAIM_SECONDS); the
    view measured is the next one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.CADRE_OVERVIEW_PAGE_SIZE = 50
    url = reverse("dashboards:overview")
    counts = []
    for n in (3, 27):
        _projects(n)
        assert staff_client.get(url).status_code == 200  # stores the new projects' claims
        with CaptureQueriesContext(connection) as ctx:
            html = staff_client.get(url).content.decode()
        assert html.count('<tr data-project="') == (3 if n == 3 else 30)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_overview_claims_are_recomputed_after_their_ttl(staff_client, settings):
    from datetime import timedelta

    from dashboards.models import ProjectClaimSnapshot

    _projects(2)
    url = reverse("dashboards:overview")
    assert staff_client.get(url).status_code == 200
    first = dict(ProjectClaimSnapshot.objects.values_list("project_id", "computed_at"))
    assert len(first) == 2
    assert staff_client.get(url).status_code == 200
    assert dict(ProjectClaimSnapshot.objects.values_list("project_id", "computed_at")) == first  # kept
    ProjectClaimSnapshot.objects.update(computed_at=min(first.values()) - timedelta(seconds=301))
    assert staff_client.get(url).status_code == 200
    again = dict(ProjectClaimSnapshot.objects.values_list("project_id", "computed_at"))
    assert all(again[p] > first[p] for p in first)  # expired: recomputed


def test_overview_is_paginated(staff_client, settings):
    settings.CADRE_OVERVIEW_PAGE_SIZE = 2
    _projects(5)
    url = reverse("dashboards:overview")
    seen = []
    for page in (1, 2, 3):
        html = staff_client.get(url, {"page": page}).content.decode()
        seen += re.findall(r'<tr data-project="(\d+)">', html)
        assert f"page {page} of 3 (5 projects)" in html
    assert len(seen) == len(set(seen)) == 5
    first = staff_client.get(url).content.decode()
    assert 'rel="next" href="?page=2"' in first and 'rel="prev"' not in first
    for bad in ("0", "4", "x", "-1"):
        resp = staff_client.get(url, {"page": bad})
        assert resp.status_code == 400 and resp.content.decode().startswith("page:"), bad
