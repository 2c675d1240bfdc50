"""The analysis pages in Debian's Chromium (Playwright) with seeded demo data: charts render
with the numbers of the analysis, and an ops person finds, corrects and keeps suspects."""
from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from dashboards.analysis import demo, demographics
from dashboards.models import Suspect, SuspectRun
from tasks_app.models import Item
from tests.web.helpers import login

# Playwright's sync API runs an event loop in this thread; Django's ORM is safe here (as in tests/web)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-ops-pass-phrase"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {"executable_path": os.environ.get("CADRE_CHROMIUM", "/usr/bin/chromium"), "args": ["--no-sandbox", "--disable-gpu"]}


@pytest.fixture
def ops_page(page: Page, live_server):
    get_user_model().objects.create_user("ops-browser", password=PASSWORD, is_staff=True)
    login(page, live_server.url, "ops-browser", PASSWORD)
    return page


def chart_data(page: Page, chart_id: str):
    """The traces charts.js drew (plotly keeps them on the div) once plotly has laid them out."""
    page.wait_for_function("id => { const gd = document.getElementById(id); return gd && gd.data && gd._fullLayout; }",
                           arg=chart_id)
    assert page.locator(f"#{chart_id} .main-svg").count() >= 1  # plotly drew an SVG
    return page.evaluate(f"() => document.getElementById('{chart_id}').data.map(t => ({{x: t.x, y: t.y}}))")


def chart_table(page: Page, chart_id: str, column: str) -> list[str]:
    """One column of the table under a chart (dashboards/_chart.html), by its header."""
    return page.evaluate("""([id, column]) => {
        const t = document.querySelector('table[data-chart-table="' + id + '"]');
        const i = Array.from(t.tHead.rows[0].cells).findIndex(th => th.textContent === column);
        return Array.from(t.tBodies[0].rows).map(tr => tr.cells[i].textContent); }""", [chart_id, column])


def test_demographics_page_shows_the_puppy_effect(ops_page: Page, live_server):
    d = demo.seed(photos=30, headlines=12)
    diff = demographics.label_differences(project=d.puppies)
    gender = next(a for a in diff.attributes if a.key == "gender")
    ops_page.goto(f"{live_server.url}/ops/projects/{d.puppies.pk}/demographics/")
    expect(ops_page.locator("#attr-gender .verdict")).to_contain_text("Labels differ by gender")
    expect(ops_page.locator("#attr-country .verdict")).to_contain_text("No significant difference")
    traces = chart_data(ops_page, "chart-gender")
    assert traces[0]["x"] == ["man", "woman"]
    assert traces[0]["y"] == [round(g["mean"], 4) for g in gender.groups]
    assert chart_table(ops_page, "chart-gender", "Mean rating") == [str(round(g["mean"], 4)) for g in gender.groups]
    mix = chart_data(ops_page, "chart-mix")
    assert mix[0]["y"] == [round(90 / 210, 4)] and mix[1]["y"] == [0.5]
    assert chart_table(ops_page, "chart-mix", "Achieved share") == [str(round(90 / 210, 4))]
    expect(ops_page.get_by_role("link", name="Download all tables (CSV)")).to_be_visible()


def test_ops_find_correct_and_keep_suspects(ops_page: Page, live_server):
    d = demo.seed(photos=5, headlines=150)
    # the batch was certified when it was cut (eager Celery, committed): quality started a run by itself
    auto = SuspectRun.objects.get()
    assert auto.created_by is None and auto.status == "done"
    ops_page.goto(f"{live_server.url}/ops/projects/{d.topics.pk}/suspects/")
    expect(ops_page.locator("table.runs tbody tr")).to_have_count(1)
    ops_page.get_by_role("button", name=f"Find suspects in batch {d.batch.number}").click()
    expect(ops_page.locator(".messages")).to_contain_text("started")
    run = SuspectRun.objects.get(created_by__username="ops-browser")
    assert run.status == "done" and run.suspects_count == auto.suspects_count  # same batch, same seed
    ops_page.locator(f'table.runs a[href$="/suspects/runs/{run.pk}/"]').click()
    n = run.suspects_count
    pairs = chart_data(ops_page, "chart-pairs")
    assert sum(pairs[0]["y"]) == n
    assert chart_table(ops_page, "chart-pairs", "Suspects") == [str(v) for v in pairs[0]["y"]]
    assert chart_data(ops_page, "chart-outcomes")[0]["y"] == [n, 0, 0]
    first, second = Suspect.objects.filter(run=run).order_by("rank")[:2]
    row = ops_page.locator(f"#suspect-{first.pk}")
    row.get_by_label(f"right label for {first.item.external_id}").select_option(first.suggested_label)
    row.get_by_role("button", name="Correct").click()
    expect(ops_page.locator(f"#suspect-{first.pk} td.outcome")).to_contain_text(f"Corrected: {first.suggested_label}")
    ops_page.locator(f"#suspect-{second.pk}").get_by_role("button", name=f"Keep {second.given_label}").click()
    expect(ops_page.locator(f"#suspect-{second.pk} td.outcome")).to_contain_text(f"Kept: {second.given_label}")
    expect(ops_page.locator("#summary .n-corrected")).to_have_text("1")
    expect(ops_page.locator("#summary .n-kept")).to_have_text("1")
    assert chart_data(ops_page, "chart-outcomes")[0]["y"] == [n - 2, 1, 1]
    assert chart_table(ops_page, "chart-outcomes", "Suspects") == [str(n - 2), "1", "1"]
    assert Item.objects.get(pk=first.item_id).label == first.suggested_label
    assert Item.objects.get(pk=second.item_id).label == second.given_label
