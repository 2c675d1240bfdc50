"""The analysis pages through Django's test client on PostgreSQL (browser checks: tests/dashboards/test_analysis_browser.py)."""
from __future__ import annotations

import csv
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from dashboards.analysis import demo
from dashboards.models import Suspect, SuspectRun
from tasks_app.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_user("ops-v", password="x", is_staff=True))
    return client


def test_demographics_page_and_csv(staff_client):
    d = demo.seed(photos=30, headlines=12)
    page = staff_client.get(f"/ops/projects/{d.puppies.pk}/demographics/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Labels differ by gender" in body and "permuting annotators" in body and "Wilcoxon signed-rank p" in body
    assert 'id="chart-gender"' in body and 'id="chart-mix"' in body and "non_binary" not in body
    rows = list(csv.DictReader(io.StringIO(staff_client.get(f"/ops/projects/{d.puppies.pk}/demographics.csv").content.decode())))
    women = [r for r in rows if r["section"] == "labels" and r["attribute"] == "gender" and r["group"] == "woman"]
    assert len(women) == 5 and sum(int(r["count"]) for r in women) == 90
    quota = next(r for r in rows if r["section"] == "quota")
    assert quota["effect_value"] == "False" and quota["answers"] == "90"


def test_suspects_flow_through_the_pages(staff_client, django_capture_on_commit_callbacks):
    d = demo.seed(photos=5, headlines=120)
    url = f"/ops/projects/{d.topics.pk}/suspects/"
    assert staff_client.get(url).status_code == 200
    assert staff_client.post(url, {"batch": "nope"}).status_code == 302
    assert not SuspectRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(url, {"batch": d.batch.pk}).status_code == 302
    run = SuspectRun.objects.get()
    assert run.status == "done" and run.suspects_count > 0
    review = staff_client.get(f"/ops/projects/{d.topics.pk}/suspects/runs/{run.pk}/")
    assert review.status_code == 200 and b"Ranked suspects" in review.content
    s = Suspect.objects.get(run=run, rank=1)
    bad = staff_client.post(f"/ops/suspects/{s.pk}/review/", {"outcome": "corrected", "label": "nonsense"}, follow=True)
    assert b"Choose one of this project" in bad.content
    ok = staff_client.post(f"/ops/suspects/{s.pk}/review/", {"outcome": "corrected", "label": s.suggested_label}, follow=True)
    assert b"corrected" in ok.content and Item.objects.get(pk=s.item_id).label == s.suggested_label
    text = staff_client.get(f"/ops/projects/{d.topics.pk}/suspects/runs/{run.pk}.csv").content.decode()
    first = next(csv.DictReader(io.StringIO(text)))
    assert first["rank"] == "1" and first["outcome"] == "corrected" and first["reviewed_by"] == "ops-v"
    assert staff_client.get(f"/ops/projects/{d.puppies.pk}/suspects/runs/{run.pk}/").status_code == 404


def test_a_pending_run_is_shown_and_the_page_reloads_until_done(staff_client):
    d = demo.seed(photos=5, headlines=30)
    url = f"/ops/projects/{d.topics.pk}/suspects/"
    staff_client.post(url, {"batch": d.batch.pk})  # the task is sent after commit: never here
    assert staff_client.post(url, {"batch": d.batch.pk}, follow=True).content.count(b"already waiting") == 1
    page = staff_client.get(url).content.decode()
    assert "reloads every 5 seconds" in page and "window.location.reload" in page
    assert SuspectRun.objects.get().status == "pending"


def test_project_dashboard_links_the_analysis_pages_and_they_share_the_ops_nav(staff_client):
    d = demo.seed(photos=5, headlines=60)
    dashboard = reverse("dashboards:project", args=[d.topics.pk])
    html = staff_client.get(dashboard).content.decode()
    links = re.search(r'<ul id="analysis-links">(.*?)</ul>', html, re.DOTALL).group(1)
    assert reverse("dashboards:demographics", args=[d.topics.pk]) in links
    assert reverse("dashboards:suspects", args=[d.topics.pk]) in links and "no run yet" in links
    run = SuspectRun.objects.create(project=d.topics, batch=d.batch, status=SuspectRun.Status.DONE, suspects_count=7)
    links = re.search(r'<ul id="analysis-links">(.*?)</ul>', staff_client.get(dashboard).content.decode(), re.DOTALL).group(1)
    assert f"last run done on batch {d.batch.number}, 7 suspects" in links
    nav = re.search(r'<nav class="ops-nav".*?</nav>', html, re.DOTALL).group(0)
    for url in (reverse("dashboards:demographics", args=[d.topics.pk]), reverse("dashboards:suspects", args=[d.topics.pk]),
                reverse("dashboards:suspect_run", args=[d.topics.pk, run.pk]), reverse("dashboards:overview")):
        page = staff_client.get(url).content.decode()
        page_nav = re.search(r'<nav class="ops-nav".*?</nav>', page, re.DOTALL).group(0)
        assert page_nav.replace(' aria-current="page"', "") == nav, url  # the same row of links everywhere
        if url != reverse("dashboards:overview"):
            assert f'<a href="{dashboard}">{d.topics.name}</a>' in page, url  # crumbs lead back to the dashboard


def test_the_embedded_demo_seeds_the_analysis_demo_too(capsys):
    from django.core.management import call_command

    from dashboards.analysis.demo import PUPPIES, TOPICS
    from tasks_app.models import Project

    call_command("seed_demo", items=4, without_analysis=True)
    assert not Project.objects.filter(name__in=[PUPPIES, TOPICS]).exists()
    call_command("seed_demo", items=4)
    call_command("seed_demo", items=4)  # idempotent
    assert Project.objects.filter(name__in=[PUPPIES, TOPICS]).count() == 2
    out = capsys.readouterr().out
    assert out.count("Demographics: /ops/projects/") == 2 and "Label-error suspects: /ops/projects/" in out
    assert get_user_model().objects.get(username="demo_woman_0").check_password("cadre-demo-2026")
