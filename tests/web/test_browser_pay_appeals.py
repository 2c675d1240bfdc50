"""Issue 3B pages in Debian's Chromium (Playwright): earnings, appeal → reinstatement,
re-qualification after a material spec change, and the ops pay / payout pages."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tasks_app.models import Answer, Example, Item, Project
from workforce import services as wf_services
from workforce.models import Earning
from tests.web.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _accepted_answers(project, user, n: int, *, duration_ms: int = 36_000):
    for i in range(n):
        item = Item.objects.create(project=project, external_id=f"paid-{uuid.uuid4().hex[:8]}", data={"text": f"t{i}"},
                                   status=Item.Status.ACCEPTED, label=project.labels[0])
        Answer.objects.create(item=item, project=project, annotator=user, label=project.labels[0],
                              client_key=uuid.uuid4().hex, duration_ms=duration_ms)


def test_earnings_page(page: Page, live_server, project, working, web_data):
    user = working.annotator
    wf_services.project_pay_set(project=project, per_answer="0.10")
    _accepted_answers(project, user, 30)
    wf_services.earnings_accrue()
    wf_services.earning_record(annotator=user, kind="survey", source_key="browser-s1", amount="0.75", note="About you")
    login(page, live_server.url, user.username, web_data.password)
    page.get_by_role("link", name="Earnings").click()
    expect(page.get_by_role("heading", name="Your earnings")).to_be_visible()
    expect(page.locator(".earn-total")).to_have_text("3.75 USD")
    expect(page.locator("table.hourly")).to_contain_text(project.name)
    expect(page.locator("table.hourly")).to_contain_text("10.00 USD")
    expect(page.locator("table.entries tbody tr")).to_have_count(25)
    expect(page.locator("table.entries")).to_contain_text("About you")
    page.get_by_role("link", name="Older").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(page.locator("table.entries tbody tr")).to_have_count(6)


def test_appeal_then_reinstatement(browser: Browser, live_server, project, working, staff, web_data):
    base = live_server.url
    wf_services.membership_standing_set(membership=working, standing="revoked", reason="Accuracy credibly below the bar")
    ann = browser.new_page()
    login(ann, base, working.annotator.username, web_data.password)
    ann.goto(f"{base}/projects/{project.pk}/")
    expect(ann.get_by_text("Accuracy credibly below the bar")).to_be_visible()
    ann.get_by_role("link", name="Appeal this decision").click()
    ann.get_by_label("Why should this decision change?").fill("Two of the checks looked mislabelled to me.")
    ann.get_by_role("button", name="Send my appeal").click()
    expect(ann.get_by_text("Your appeal was sent.")).to_be_visible()
    expect(ann.get_by_text("is being reviewed")).to_be_visible()

    ops = browser.new_page()
    login(ops, base, staff.username, web_data.password)
    ops.get_by_role("link", name="Appeals").click()
    row = ops.locator("table.appeals-open tr", has_text=working.annotator.username)
    expect(row).to_contain_text("Accuracy credibly below the bar")
    row.get_by_role("link", name="Review", exact=True).click()
    expect(ops.get_by_text("Two of the checks looked mislabelled to me.")).to_be_visible()
    ops.get_by_label("Reinstate").check()
    ops.get_by_label("Note to the annotator").fill("You were right: two checks are being fixed.")
    ops.get_by_role("button", name="Record the decision").click()
    expect(ops.get_by_text("Decision recorded")).to_be_visible()
    expect(ops.locator("table.appeals-decided")).to_contain_text("Reinstated")

    ann.reload()
    expect(ann.locator("article.appeal-reinstated")).to_contain_text("You were right: two checks are being fixed.")
    expect(ann.locator("table.standing-history")).to_contain_text("Ops")
    ann.goto(f"{base}/projects/{project.pk}/")
    ann.get_by_role("link", name="Work on tasks").click()
    expect(ann.get_by_text("This task is yours until")).to_be_visible()


def test_requalification_after_a_material_change(page: Page, live_server, project, working, web_data):
    Project.objects.filter(pk=project.pk).update(spec_version=2, requalify_from_version=2)
    login(page, live_server.url, working.annotator.username, web_data.password)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    expect(page.locator(".requalify")).to_contain_text("you qualified on version 1")
    expect(page.get_by_role("link", name="Work on tasks")).to_have_count(0)
    page.get_by_role("link", name="Take the qualifier").click()
    labels = {ex.data["text"]: ex.label for ex in Example.objects.filter(project=project, role="qualifier")}
    for fieldset in page.locator("fieldset").all():
        text = next(t for t in labels if t in fieldset.inner_text())
        fieldset.get_by_role("radio", name=labels[text]).check()
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", name=re.compile("passed"))).to_be_visible()
    page.get_by_role("link", name="Start working").click()
    expect(page.get_by_text("This task is yours until")).to_be_visible()
    working.refresh_from_db()
    assert working.qualified_spec_version == 2


def test_ops_pay_and_payout_export(page: Page, live_server, project, working, staff, web_data, settings):
    settings.CADRE_MIN_HOURLY_RATE = "10.00"
    settings.CADRE_MIN_RATE_ANSWERS = 5
    wf_services.project_pay_set(project=project, per_answer="0.01")
    _accepted_answers(project, working.annotator, 6, duration_ms=60_000)  # 0.60/hour
    wf_services.earnings_accrue()
    last_week = dt.date.today() - dt.timedelta(days=3)
    Earning.objects.update(created_at=dt.datetime.combine(last_week, dt.time(9), tzinfo=dt.UTC))
    login(page, live_server.url, staff.username, web_data.password)
    page.get_by_role("link", name="Pay", exact=True).click()
    expect(page.locator(".flagged")).to_contain_text(project.name)
    expect(page.locator("table.pay-projects")).to_contain_text("below minimum")
    page.get_by_label(f"Per accepted answer for {project.name}").fill("0.3")
    page.locator("table.pay-projects tr", has_text=project.name).get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"{project.name} now pays 0.3000 USD per accepted answer.")).to_be_visible()
    # the flag stays until paid answers at the new rate lift the effective rate: entries keep their amounts
    expect(page.locator(".flagged")).to_contain_text(project.name)
    expect(page.locator("table.pay-projects")).to_contain_text("0.3000 USD")
    page.get_by_role("link", name="Payouts").click()
    page.get_by_label("First day").fill(last_week.isoformat())
    page.get_by_label("Last day").fill(last_week.isoformat())
    page.get_by_role("button", name="Create the batch").click()
    expect(page.get_by_text("6 entries")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV per annotator").click()
    rows = list(csv.DictReader(io.StringIO(open(info.value.path()).read())))
    assert [(r["username"], r["entries"], r["amount"]) for r in rows] == [(working.annotator.username, "6", "0.0600")]
