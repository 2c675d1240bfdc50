"""The workbench's JSON loop in Debian's Chromium (issue 9, i9json): several answers in a row on
one page load for every refillable task type (a marker set on ``window`` survives, so no
navigation happened), the keyboard shortcuts, the countdown and signals restarting per task, the
empty-queue end state, and the plain form post still working without JavaScript."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tasks_app import services as task_services
from tasks_app.models import Answer, Lease
from tests.factories import annotator_working
from tests.task_types.specs import IMAGE, spec
from tests.web.test_browser_signals import sign_in
from workforce import services as wf_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAVED = "Answer saved. Here is the next one."


def mark(page: Page) -> None:
    page.evaluate("window.__samePage = 'still here'")


def same_page(page: Page) -> bool:
    return page.evaluate("window.__samePage") == "still here"


def wait_next(page: Page, lease_before: str) -> str:
    """Until the form carries a new lease (the JSON reply was filled in); that lease id."""
    page.wait_for_function(
        "old => document.querySelector('#task-form input[name=lease_id]').value !== old", arg=lease_before)
    return page.locator("#task-form input[name=lease_id]").input_value()


def lease_of(page: Page) -> str:
    return page.locator("#task-form input[name=lease_id]").input_value()


@pytest.fixture
def typed(organization):
    def build(task_type: str, items: int = 4, item_data=None):
        s = spec(task_type)
        project = task_services.project_create(
            organization=organization, name=f"{task_type} loop", instructions="Answer carefully.",
            accuracy_target=0.9, task_type=task_type, labels=s["labels"], type_config=s["type_config"],
            examples=[task_services.ExampleIn(**ex) for ex in s["examples"]],
        )
        data = item_data or s["item_data"]
        task_services.items_upload(project=project, rows=[{"external_id": f"i{i}", "data": data(i)} for i in range(items)])
        return task_services.project_launch(project=project)

    return build


def _open(page: Page, live_server, project, user) -> str:
    wf_services.membership_check_rate_set(membership=annotator_working(project, user), rate=0.0)
    sign_in(page, live_server.url, user)
    url = f"{live_server.url}/projects/{project.pk}/task/"
    page.goto(url)
    mark(page)
    return url


def test_single_choice_by_keyboard_three_in_a_row_without_a_page_load(page: Page, live_server, make_project,
                                                                      make_annotator, qualify):
    project = make_project(items=5, known=2)
    user = make_annotator("json-single")
    wf_services.membership_check_rate_set(membership=qualify(project, user), rate=0.0)
    sign_in(page, live_server.url, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/task/")
    mark(page)
    expect(page.locator('[data-progress="session"]')).to_have_text("0")
    seen = []
    for key, submit in (("1", "Enter"), ("2", "Control+Enter"), ("1", "Enter")):
        lease = lease_of(page)
        seen.append(page.locator(".item-text").inner_text())
        page.locator("body").click()
        page.keyboard.press(key)
        page.keyboard.press(submit)
        wait_next(page, lease)
        expect(page.locator("#wb-saved")).to_have_text(SAVED)
        # the widget starts over for the new item: nothing chosen
        assert page.locator("input[name=label]:checked").count() == 0
    assert same_page(page)
    answers = list(Answer.objects.filter(annotator=user).order_by("id"))
    assert [a.label for a in answers] == ["positive", "negative", "positive"]
    assert len({a.item_id for a in answers}) == 3
    assert [a.item.data["text"] for a in answers] == seen  # each answer went to the item it was shown with
    assert all(a.signals and a.signals["visible_ms"] >= 0 for a in answers)
    assert page.locator(".item-text").inner_text() not in seen
    expect(page.locator('[data-progress="session"]')).to_have_text("3")
    # the skip dialog's form follows the task in hand
    assert page.locator("#skip-dialog input[name=lease_id]").input_value() == lease_of(page)
    assert Lease.objects.get(pk=lease_of(page)).state == Lease.State.ACTIVE


def test_multi_choice_loop(page: Page, live_server, typed, make_annotator):
    _open(page, live_server, typed("multi_choice"), make_annotator("json-multi"))
    for keys, want in ((["1", "3"], ["red", "blue"]), (["2"], ["green"])):
        lease = lease_of(page)
        page.locator("body").click()
        for k in keys:
            page.keyboard.press(k)
        page.keyboard.press("Enter")
        wait_next(page, lease)
        expect(page.locator("#wb-saved")).to_have_text(SAVED)
        assert page.locator(".tw-opt:checked").count() == 0
        assert page.locator("#task-form .tw-value").input_value() == "[]"
    assert same_page(page)
    assert [a.value for a in Answer.objects.order_by("id")] == [["red", "blue"], ["green"]]


def test_text_loop(page: Page, live_server, typed, make_annotator):
    _open(page, live_server, typed("text"), make_annotator("json-text"))
    for text in ("Paris", "Berlin, Germany"):
        lease = lease_of(page)
        page.get_by_label("Your answer").fill(text)
        page.get_by_role("button", name="Submit").click()
        wait_next(page, lease)
        expect(page.get_by_label("Your answer")).to_have_value("")
    assert same_page(page)
    assert [a.value for a in Answer.objects.order_by("id")] == ["Paris", "Berlin, Germany"]


def test_rating_loop(page: Page, live_server, typed, make_annotator):
    _open(page, live_server, typed("rating"), make_annotator("json-rating"))
    for key in ("4", "2"):
        lease = lease_of(page)
        page.locator("body").click()
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        wait_next(page, lease)
        assert page.locator("input[name=value]:checked").count() == 0
    assert same_page(page)
    assert [a.value for a in Answer.objects.order_by("id")] == [4, 2]


def _drag(page: Page, x0: float, y0: float, x1: float, y1: float) -> None:
    box = page.locator(".tw-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1, steps=5)
    page.mouse.up()


def test_bbox_loop_swaps_the_image_and_clears_the_boxes(page: Page, live_server, typed, make_annotator):
    project = typed("bbox", item_data=lambda i: {"image": f"{IMAGE}?n={i}", "id": i})
    _open(page, live_server, project, make_annotator("json-bbox"))
    images = []
    for n_boxes in (1, 2):
        lease = lease_of(page)
        images.append(page.locator(".tw-image").get_attribute("src"))
        expect(page.locator(".tw-image")).to_have_js_property("complete", True)
        for j in range(n_boxes):
            _drag(page, 0.1 + 0.4 * j, 0.1, 0.35 + 0.4 * j, 0.5)
        expect(page.locator(".tw-boxes li")).to_have_count(n_boxes)
        page.get_by_role("button", name="Submit").click()
        wait_next(page, lease)
        expect(page.locator(".tw-boxes li")).to_have_count(0)
        assert page.locator("#task-form .tw-value").input_value() == "[]"
    assert same_page(page)
    assert page.locator(".tw-image").get_attribute("src") not in images
    answers = list(Answer.objects.order_by("id"))
    assert [len(a.value) for a in answers] == [1, 2]
    assert [a.item.data["image"] for a in answers] == images
    # each item's natural size went with its answer (the widget's size input follows the item)
    assert all(a.item.data.get("width") and a.item.data.get("height") for a in answers)


def test_most_similar_loop_swaps_the_candidates(page: Page, live_server, typed, make_annotator):
    project = typed("most_similar", item_data=lambda i: {"text": f"A dog #{i}", "candidates": [f"puppy {i}", f"cat {i}", f"car {i}"]})
    _open(page, live_server, project, make_annotator("json-similar"))
    for key in ("2", "1"):
        lease = lease_of(page)
        n = page.locator(".item-text").inner_text().split("#")[1]
        expect(page.get_by_text(f"cat {n}")).to_be_visible()
        page.locator("body").click()
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        new = wait_next(page, lease)
        n = Lease.objects.get(pk=new).item.data["text"].split("#")[1]
        expect(page.get_by_text(f"puppy {n}")).to_be_visible()
    assert same_page(page)
    assert [a.value for a in Answer.objects.order_by("id")] == [2, 1]


def test_the_queue_running_dry_shows_the_end_state(page: Page, live_server, make_project, make_annotator, qualify):
    project = make_project(items=2, known=1)
    user = make_annotator("json-dry")
    wf_services.membership_check_rate_set(membership=qualify(project, user), rate=0.0)
    sign_in(page, live_server.url, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/task/")
    for _ in range(2):
        lease = lease_of(page)
        page.locator("body").click()
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        if _ == 0:
            wait_next(page, lease)
    expect(page.get_by_role("heading", name="Nothing for you right now")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text(SAVED)  # the last answer was kept, and the page says so
    assert Answer.objects.filter(annotator=user).count() == 2


def test_an_expired_lease_offers_a_fresh_task(page: Page, live_server, make_project, make_annotator, qualify):
    from datetime import timedelta

    from django.utils import timezone

    project = make_project(items=3, known=1)
    user = make_annotator("json-late")
    wf_services.membership_check_rate_set(membership=qualify(project, user), rate=0.0)
    sign_in(page, live_server.url, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/task/")
    Lease.objects.filter(pk=lease_of(page)).update(expires_at=timezone.now() - timedelta(seconds=1))
    page.locator("body").click()
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#lease-warning")).to_contain_text("no longer yours")
    expect(page.get_by_role("link", name="Get a fresh task")).to_be_visible()
    expect(page.get_by_role("button", name="Submit")).to_be_disabled()
    assert not Answer.objects.filter(annotator=user).exists()


def test_without_javascript_the_form_posts_as_before(browser, live_server, make_project, make_annotator, qualify):
    project = make_project(items=4, known=1)
    user = make_annotator("json-nojs")
    wf_services.membership_check_rate_set(membership=qualify(project, user), rate=0.0)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server.url, user)
        page.goto(f"{live_server.url}/projects/{project.pk}/task/")
        for label in ("positive", "negative"):
            page.get_by_label(label).check()
            with page.expect_navigation():
                page.get_by_role("button", name="Submit").click()
            expect(page.locator(".messages")).to_contain_text(SAVED)
        assert [a.label for a in Answer.objects.filter(annotator=user).order_by("id")] == ["positive", "negative"]
    finally:
        context.close()
