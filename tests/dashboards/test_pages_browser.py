"""Issue 7 in Debian's Chromium: every dashboard page opens with seeded data, the plotly charts
hold the same numbers as their tables and the selectors, they refresh without a reload, and
the annotator table sorts and filters."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboards.selectors.charts import accuracy_over_time, answers_per_hour
from tasks_app.models import Answer, Item
from tests.dashboards.seed import seed_project
from tests.web.conftest import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from tests.web.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "dash-board-pass-7"

READ_CHART = """id => {
  const gd = document.getElementById(id);
  return gd.data.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y),
                           plus: t.error_y ? Array.from(t.error_y.array) : null,
                           minus: t.error_y ? Array.from(t.error_y.arrayminus) : null}));
}"""
READ_TABLE = """id => Array.from(document.querySelectorAll('table[data-chart-table="' + id + '"] tbody tr'))
  .map(tr => Array.from(tr.cells).map(td => td.textContent))"""


@pytest.fixture
def seeded(settings):
    settings.CADRE_DASHBOARD_REFRESH_SECONDS = 1
    get_user_model().objects.create_user(username="ops-browser", password=PASSWORD, is_staff=True)
    return seed_project()


def wait_drawn(page: Page, chart_id: str) -> None:
    page.wait_for_function("id => { const gd = document.getElementById(id); return gd && gd.data && gd._fullLayout; }",
                           arg=chart_id)
    expect(page.locator(f"#{chart_id} .main-svg").first).to_be_attached()


def test_overview_and_project_dashboard_charts(page: Page, live_server, seeded):
    base, project = live_server.url, seeded.project
    login(page, base, "ops-browser", PASSWORD)
    page.goto(f"{base}/ops/")
    assert page.url.endswith("/ops/overview/")
    row = page.locator(f'tr[data-project="{project.pk}"]')
    expect(row.locator(".verdict")).to_have_text("off track")
    expect(row.locator(".why")).to_contain_text("scoring behind")
    row.get_by_role("link", name=project.name).click()
    expect(page.locator("#verdict")).to_contain_text("Off track")

    # answers per hour: plotly's data == the table under it == the selector
    wait_drawn(page, "chart-answers-per-hour")
    spec = answers_per_hour(project=project)
    traces = page.evaluate(READ_CHART, "chart-answers-per-hour")
    assert [t["name"] for t in traces] == ["Answers", "Known checks", "Items decided"]
    assert traces[0]["x"] == [r[0] for r in spec["rows"]]
    for i, trace in enumerate(traces, start=1):
        assert trace["y"] == [r[i] for r in spec["rows"]], trace["name"]
    table = page.evaluate(READ_TABLE, "chart-answers-per-hour")
    assert table == [[str(v) for v in r] for r in spec["rows"]]
    assert sum(traces[0]["y"]) == 14 and sum(traces[1]["y"]) == 7 and sum(traces[2]["y"]) == 4

    # accuracy over time: two certified batches then the engine's estimate, bounds as error bars
    wait_drawn(page, "chart-accuracy-over-time")
    acc = accuracy_over_time(project=project)
    est = page.evaluate(READ_CHART, "chart-accuracy-over-time")[0]
    assert est["y"][:2] == [0.88, 0.93] and est["y"] == [r[2] for r in acc["rows"]]
    assert est["plus"][:2] == pytest.approx([0.94 - 0.88, 0.96 - 0.93])
    assert est["minus"][:2] == pytest.approx([0.88 - 0.81, 0.93 - 0.9])
    table = page.evaluate(READ_TABLE, "chart-accuracy-over-time")
    assert [row[2] for row in table] == [str(r[2]) for r in acc["rows"]]

    # the CSV behind the chart has the same rows
    csv_text = page.request.get(base + page.get_by_role("link", name="Download CSV").first.get_attribute("href")).text()
    assert csv_text.splitlines()[1:] == [",".join(str(v) for v in r) for r in spec["rows"]]

    # auto-refresh: a new answer shows up in the chart and its table without reloading the page
    page.evaluate("window.__notReloaded = true")
    item = Item.objects.filter(project=project, is_known=False, answers__isnull=True).order_by("id").first()
    Answer.objects.create(item=item, project=project, annotator=seeded.users["u6"], label="positive", client_key="fresh",
                          scored_at=timezone.now() + timedelta(seconds=1))
    last = spec["rows"][-1][1]
    page.wait_for_function(
        "([id, n]) => { const t = document.getElementById(id).data[0]; return t.y[t.y.length - 1] === n; }",
        arg=["chart-answers-per-hour", last + 1], timeout=15000)
    assert page.evaluate(READ_TABLE, "chart-answers-per-hour")[-1][1] == str(last + 1)
    assert page.evaluate("window.__notReloaded") is True


def test_annotator_table_sorts_and_filters(page: Page, live_server, seeded):
    base, project = live_server.url, seeded.project
    login(page, base, "ops-browser", PASSWORD)
    page.goto(f"{base}/ops/projects/{project.pk}/dashboard/")
    names = page.locator("#annotator-table tbody tr")

    def order() -> list[str]:
        return [n.get_attribute("data-username") for n in names.all()]

    assert order()[:3] == ["seed-u2", "seed-u3", "seed-u1"]  # least accurate first
    page.locator("#annotator-table thead a[data-sort=accuracy]").click()  # flips to descending
    expect(page.locator("#annotator-table thead th[aria-sort=descending]")).to_contain_text("Accuracy")
    assert order()[:3] == ["seed-u1", "seed-u3", "seed-u2"]
    page.locator("#annotator-table thead a[data-sort=username]").click()
    assert order() == [f"seed-u{i}" for i in range(1, 7)]
    page.get_by_label("Standing").select_option("warned")
    page.get_by_role("button", name="Filter").click()
    assert order() == ["seed-u3"]
    assert "standing=warned" in page.url and "sort=username" in page.url
    page.get_by_label("Standing").select_option("")
    page.get_by_label("flagged answers only").check()
    page.get_by_role("button", name="Filter").click()
    assert order() == ["seed-u2"]
    expect(names.first).to_contain_text("2 (1 pasted, 2 fast)")
