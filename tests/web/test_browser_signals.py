"""Behaviour signals from a real browser (Debian's Chromium via Playwright): the task page's script
counts visible time, pastes and focus changes and sends them with the answer; the answer page is
the next task (one request per annotation) and a reload of it does not re-post."""
from __future__ import annotations

import re
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from playwright.sync_api import Page, expect

from tasks_app.models import Answer
from workforce import services as wf_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, base: str, user) -> None:
    """The session cookie a login would set (the login page has its own tests)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": base}])


def test_browser_sends_visible_time_pastes_and_blurs(page: Page, live_server, make_project, make_annotator, qualify):
    project = make_project(items=6, known=2)
    user = make_annotator("signals-ann")
    wf_services.membership_check_rate_set(membership=qualify(project, user), rate=0.0)
    sign_in(page, live_server.url, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/task/")
    first_text = page.locator(".item-text").inner_text()

    page.wait_for_timeout(600)  # time on task, page visible
    # Two pastes (the keyboard shortcut, as a person would press it) ...
    page.locator("input[name=label]").first.focus()
    page.keyboard.press("Control+V")
    page.keyboard.press("Control+V")
    # ... and the window losing focus twice. Headless Chromium keeps every page focused (Playwright
    # emulates focus), so switching tabs fires nothing: the event the browser would fire is sent.
    page.evaluate("window.dispatchEvent(new FocusEvent('blur')); window.dispatchEvent(new FocusEvent('blur'))")

    page.locator("body").press("1")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Answer saved. Here is the next one.")).to_be_visible()
    assert page.locator(".item-text").inner_text() != first_text

    answer = Answer.objects.get(annotator=user)
    signals = answer.signals
    assert set(signals) == {"visible_ms", "pastes", "blurs"}, signals
    assert 500 <= signals["visible_ms"] < 60_000, signals
    assert signals["pastes"] == 2, signals
    assert signals["blurs"] == 2, signals

    # The answer page came from a POST; a reload is a plain GET of the task (no re-post): the
    # same task again, no second answer, no "already saved".
    second_text = page.locator(".item-text").inner_text()
    page.reload()
    expect(page.locator(".item-text")).to_have_text(second_text)
    expect(page.get_by_text("already saved")).to_have_count(0)
    assert Answer.objects.filter(annotator=user).count() == 1

    # Without JavaScript, the same form still works and simply records no signals.
    page.locator("body").press("2" if "great" in second_text else "1")
    page.evaluate("document.querySelector('form.task').submit()")  # submit() skips the submit listener
    expect(page.get_by_text("Answer saved. Here is the next one.")).to_be_visible()
    assert Answer.objects.filter(annotator=user).count() == 2
    assert Answer.objects.filter(annotator=user).latest("id").signals == {}
    assert re.search(r"/projects/\d+/task/$", page.url)
