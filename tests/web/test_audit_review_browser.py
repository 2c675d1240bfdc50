"""Audit review in Debian's Chromium (Playwright): an ops reviewer signs in, labels the sample
blind, completes the audit, and sees the result; the wrong item is reopened."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from quality.models import Audit
from quality.services.audits import audit_create
from tasks_app import services as task_services
from tasks_app.models import Item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ops_reviews_an_audit_in_the_browser(page: Page, live_server, make_project, staff, web_data):
    project = make_project(items=6)
    for item in Item.objects.filter(project=project, is_known=False):  # as if the engine had decided them
        item.status, item.p_correct, item.answers_count = "accepted", 0.95, 2
        item.label = "positive" if "great" in item.data["text"] else "negative"
        item.save()
    batch = task_services.batch_cut(project=project, kind="requested")
    audit = audit_create(batch=batch, margin=0.3, min_per_class=3)
    samples = list(audit.samples.select_related("item").order_by("id"))
    assert len(samples) == 6  # the margin asks for more than the batch holds: every item

    base = live_server.url
    page.goto(f"{base}/review/audits/{audit.pk}/")
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill(web_data.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=f"Audit {audit.pk}", exact=False)).to_be_visible()
    expect(page.get_by_text("delivered:")).to_have_count(0)  # blind
    for i, s in enumerate(samples):
        truth = "positive" if "great" in s.item.data["text"] else "negative"
        if i == 0:  # the reviewer disagrees with the delivery on the first one
            truth = "negative" if truth == "positive" else "positive"
        form = page.locator(f"#s{s.pk}")
        form.get_by_role("radio", name=truth).check()
        form.get_by_role("button", name="Save").click()
        expect(page.locator("#progress")).to_have_text(f"{i + 1} / {len(samples)}")
    page.get_by_role("button", name="Complete the audit").click()
    expect(page.locator("#result")).to_contain_text("1 of 6 sampled items were delivered with a wrong label")
    expect(page.locator("#result")).to_contain_text("Certificate: accuracy")
    assert Audit.objects.get(pk=audit.pk).status == "complete"
    assert Item.objects.get(pk=samples[0].item_id).status == "open"
