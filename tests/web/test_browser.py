"""End-to-end in Debian's Chromium (Playwright) against pytest-django's live server.

The live server runs in a thread of this process; Celery is eager (tests/conftest.py), so
each submitted answer is scored in-process right after its commit.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from workforce.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/cadre-task-page.png"


def _signup(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/signup/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Email (optional)").fill(f"{username}@example.org")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Welcome to Cadre!")).to_be_visible()
    _vet(page, base, username)


def _vet(page: Page, base: str, username: str) -> None:
    """Vetting in the browser (issue 3a): the emailed link, the profile form, ops' identity
    check (service), the code of conduct; then the projects are listed."""
    from django.contrib.auth import get_user_model
    from django.core import mail

    from workforce import services as wf_services

    expect(page.get_by_text("Finish vetting to see projects")).to_be_visible()
    link = re.search(r"https?://\S+/verify-email/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Email verified")).to_be_visible()
    page.goto(f"{base}/profile/")
    page.get_by_label("Age", exact=True).fill("12")
    page.get_by_label("Country of residence (ISO code, e.g. DE)").fill("de")
    page.get_by_label("Languages you read fluently (ISO codes, e.g. en, de)").fill("en")
    page.get_by_role("button", name="Save my profile").click()
    expect(page.get_by_text("Age: 12 is not possible")).to_be_visible()  # nothing stored
    page.get_by_label("Age", exact=True).fill("33")
    page.get_by_role("button", name="Save my profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    expect(page.get_by_text("Identity check by Cadre staff")).to_be_visible()
    user = get_user_model().objects.get(username=username)
    ops, _ = get_user_model().objects.get_or_create(username="browser-ops", defaults={"is_staff": True})
    wf_services.identity_check_record(annotator=user, actor=ops, passed=True)
    page.reload()
    page.get_by_role("button", name="I accept the code of conduct").click()
    expect(page.get_by_text("Your account is active")).to_be_visible()


def _tutorial(page: Page, web_data) -> None:
    page.get_by_role("link", name="Start the tutorial").click()
    text, label, explanation = web_data.tutorial[0]
    expect(page.get_by_text(text)).to_be_visible()
    wrong = [lab for lab in web_data.labels if lab != label][0]
    page.get_by_role("radio", name=re.compile(wrong)).check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_text("Not quite.")).to_be_visible()
    expect(page.get_by_text(explanation)).to_be_visible()
    page.get_by_role("link", name="Next example").click()
    text, label, explanation = web_data.tutorial[1]
    page.get_by_role("radio", name=re.compile(label)).check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_text("Right!")).to_be_visible()
    expect(page.get_by_text(explanation)).to_be_visible()
    expect(page.get_by_text("Tutorial complete: the qualifier is now open.")).to_be_visible()
    page.get_by_role("link", name="Go to the qualifier").click()


def _qualifier(page: Page, web_data, *, wrong: int) -> None:
    for i, (text, label, explanation) in enumerate(web_data.qualifier):
        expect(page.get_by_text(explanation)).to_have_count(0)  # no feedback before submit
        if i < wrong:
            label = [lab for lab in web_data.labels if lab != label][0]
        page.locator("fieldset", has_text=text).get_by_role("radio", name=label).check()
    page.get_by_role("button", name="Submit my answers").click()


def test_annotator_journey(page: Page, live_server, project, web_data):
    base = live_server.url
    _signup(page, base, "browser-ann", web_data.password)
    page.get_by_role("link", name=project.name).click()
    expect(page.get_by_text("Choose the overall sentiment of the review.")).to_be_visible()
    _tutorial(page, web_data)
    _qualifier(page, web_data, wrong=0)
    expect(page.get_by_role("heading", name=re.compile("passed"))).to_be_visible()
    expect(page.get_by_text("3 / 3")).to_be_visible()
    page.get_by_role("link", name="Start working").click()

    for n in range(3):
        text = page.locator(".item-text").inner_text()
        expect(page.get_by_text("This task is yours until")).to_be_visible()
        if n == 0:
            page.set_viewport_size({"width": 390, "height": 760})
            page.screenshot(path=SCREENSHOT, full_page=True)
        # Number keys choose the label (1 = positive, 2 = negative).
        page.locator("body").press("1" if "great" in text else "2")
        expected = "positive" if "great" in text else "negative"
        expect(page.get_by_role("radio", name=re.compile(expected))).to_be_checked()
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_text("Answer saved.")).to_be_visible()
        assert page.locator(".item-text").inner_text() != text

    m = Membership.objects.get(annotator__username="browser-ann")
    assert m.annotator.answers.count() == 3
    assert m.annotator.answers.filter(scored_at__isnull=False).count() == 3  # scored after commit
    page.get_by_role("link", name=project.name).click()
    expect(page.locator("dd").get_by_text("Working")).to_be_visible()
    expect(page.locator("dd").get_by_text("Active")).to_be_visible()


def test_failing_annotator_sees_fail_result(page: Page, live_server, project, web_data):
    _signup(page, live_server.url, "browser-fail", web_data.password)
    page.get_by_role("link", name=project.name).click()
    _tutorial(page, web_data)
    _qualifier(page, web_data, wrong=2)
    expect(page.get_by_role("heading", name=re.compile("not passed"))).to_be_visible()
    expect(page.get_by_text("1 / 3")).to_be_visible()
    expect(page.get_by_text("Fail", exact=True)).to_be_visible()
    expect(page.get_by_text("Next attempt opens")).to_be_visible()
    expect(page.get_by_text(web_data.qualifier[0][2])).to_be_visible()  # review after grading
    page.get_by_role("link", name="Back to the project").click()
    expect(page.get_by_text("Your next qualifier attempt is not open yet.")).to_be_visible()
