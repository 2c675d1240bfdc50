"""The tutorial keeps the annotator's answer in the task type's widget (review leftover: the
qualifier refilled its widgets, the tutorial dropped the answer): the feedback shows it
read-only under "Your answer" beside the correct one, and a form error gives the form back
filled in. Every structured type, driven in Debian's Chromium (Playwright)."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.web.helpers import login
from tests.web.test_task_types_browser import _drag, typed_project  # noqa: F401 (fixture)
from workforce import services as wf_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_tutorial(page: Page, live_server, project, make_annotator, web_data, name: str):
    user = make_annotator(name)
    wf_services.membership_join(project=project, annotator=user)
    login(page, live_server.url, name, web_data.password)
    page.goto(f"{live_server.url}/projects/{project.pk}/tutorial/?step=1")
    return page.locator("form .tw")


def _check(page: Page):
    page.get_by_role("button", name="Check my answer").click()
    expect(page.locator(".feedback .verdict")).to_be_visible()
    mine = page.locator("fieldset.your-answer")
    expect(mine).to_be_visible()
    expect(mine.locator("input:not([type=hidden]), textarea").first).to_be_disabled()  # read-only: the fieldset is disabled
    return mine


def test_multi_choice(page: Page, live_server, typed_project, make_annotator, web_data):  # noqa: F811
    w = _open_tutorial(page, live_server, typed_project("multi_choice"), make_annotator, web_data, "ticker")
    w.get_by_label("green").check()
    w.get_by_label("blue").check()
    mine = _check(page)
    expect(mine.get_by_label("green")).to_be_checked()
    expect(mine.get_by_label("blue")).to_be_checked()
    expect(mine.get_by_label("red")).not_to_be_checked()
    expect(page.get_by_text("The answer is")).to_have_count(0)  # wrong: the example wants red


@pytest.mark.parametrize("task_type,pick,shown", [("rating", "4", "4"), ("most_similar", "a grey cat", "2")])
def test_rating_and_most_similar(page: Page, live_server, typed_project, make_annotator, web_data, task_type, pick, shown):  # noqa: F811
    w = _open_tutorial(page, live_server, typed_project(task_type), make_annotator, web_data, f"picker-{task_type}")
    w.locator(f"label:has-text(\"{pick}\") input").check()
    mine = _check(page)
    expect(mine.locator(f"input[type=radio][value='{shown}']")).to_be_checked()
    expect(mine.locator("input[type=radio]:checked")).to_have_count(1)


def test_text(page: Page, live_server, typed_project, make_annotator, web_data):  # noqa: F811
    w = _open_tutorial(page, live_server, typed_project("text"), make_annotator, web_data, "writer")
    w.locator(".tw-text").fill("Paris, the capital")
    mine = _check(page)
    expect(mine.locator(".tw-text")).to_have_value("Paris, the capital")
    expect(page.locator(".feedback .verdict")).to_contain_text("Right")


def test_bbox_feedback_and_error_refill(page: Page, live_server, typed_project, make_annotator, web_data):  # noqa: F811
    project = typed_project("bbox")
    w = _open_tutorial(page, live_server, project, make_annotator, web_data, "boxer")
    page.wait_for_function("document.querySelector('.tw-image').naturalWidth > 0")
    w.get_by_label("circle").check()
    _drag(page, w.locator(".tw-image").bounding_box(), 0.55, 0.33, 0.90, 0.80)
    expect(w.locator(".tw-boxes li")).to_have_count(1)
    drawn = json.loads(w.locator(".tw-value").input_value())
    mine = _check(page)
    expect(mine.locator(".tw-boxes li")).to_have_count(1)
    expect(mine.locator(".tw-box")).to_have_count(1)  # drawn on the image, not only listed
    assert json.loads(mine.locator(".tw-value").input_value()) == drawn
    # a form error (a box of a class the project does not have) gives the form back with the boxes
    page.goto(f"{live_server.url}/projects/{project.pk}/tutorial/?step=1")
    page.evaluate("""() => { const v = document.querySelector('form .tw-value');
        v.value = JSON.stringify([{label: 'triangle', x: 0.1, y: 0.1, w: 0.2, h: 0.2}]); }""")
    page.get_by_role("button", name="Check my answer").click()
    expect(page.locator(".feedback")).to_have_count(0)
    expect(page.locator("form .tw-boxes li")).to_have_count(1)
    assert json.loads(page.locator("form .tw-value").input_value())[0]["label"] == "triangle"
