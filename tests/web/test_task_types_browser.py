"""Every structured task type driven in Debian's Chromium (Playwright, issue 6): the widget is
used with the keyboard or the mouse as an annotator would, the form is submitted, and the
answer stored by the real service carries the structured value and its canonical label."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tasks_app import services as task_services
from tasks_app.models import Answer
from tests.factories import annotator_working
from tests.task_types.specs import spec

from tests.web.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def typed_project(organization):
    def build(task_type: str):
        s = spec(task_type)
        project = task_services.project_create(
            organization=organization, name=f"{task_type} demo", instructions="Answer carefully.",
            accuracy_target=0.9, task_type=task_type, labels=s["labels"], type_config=s["type_config"],
            examples=[task_services.ExampleIn(**ex) for ex in s["examples"]],
        )
        task_services.items_upload(project=project, rows=[{"external_id": f"i{i}", "data": s["item_data"](i)} for i in range(3)])
        return task_services.project_launch(project=project)

    return build


def _open_task(page: Page, live_server, project, make_annotator, web_data, name: str) -> None:
    user = make_annotator(name)
    annotator_working(project, user)
    login(page, live_server.url, name, web_data.password)
    page.goto(f"{live_server.url}/projects/{project.pk}/task/")


def _submit(page: Page) -> Answer:
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Answer saved")).to_be_visible()
    return Answer.objects.get()


def test_multi_choice_with_number_keys(page: Page, live_server, typed_project, make_annotator, web_data):
    project = typed_project("multi_choice")
    _open_task(page, live_server, project, make_annotator, web_data, "multi")
    page.locator("body").click()
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("2")  # toggled twice: off again
    expect(page.get_by_label("red")).to_be_checked()
    answer = _submit(page)
    assert answer.value == ["red", "blue"] and answer.label == "red|blue"


@pytest.mark.parametrize("task_type,who,shown,key", [("rating", "rater", "very cute", 4), ("most_similar", "matcher", "a grey cat", 2)])
def test_pick_with_a_number_key(page: Page, live_server, typed_project, make_annotator, web_data, task_type, who, shown, key):
    project = typed_project(task_type)
    _open_task(page, live_server, project, make_annotator, web_data, who)
    expect(page.get_by_text(shown)).to_be_visible()
    page.locator("body").click()
    page.keyboard.press(str(key))
    answer = _submit(page)
    assert answer.value == key and answer.label == str(key)


def test_free_text_is_normalised_into_the_label(page: Page, live_server, typed_project, make_annotator, web_data):
    project = typed_project("text")
    _open_task(page, live_server, project, make_annotator, web_data, "writer")
    page.get_by_label("Your answer").fill("  PARIS, France!  ")
    answer = _submit(page)
    assert answer.value == "PARIS, France!" and answer.label == "paris france"


def _drag(page: Page, box: dict, x0: float, y0: float, x1: float, y1: float) -> None:
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (x0 + x1) / 2, box["y"] + box["height"] * (y0 + y1) / 2, steps=4)
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1, steps=4)
    page.mouse.up()


def test_bbox_draw_with_the_mouse_choose_class_and_delete(page: Page, live_server, typed_project, make_annotator, web_data):
    project = typed_project("bbox")
    _open_task(page, live_server, project, make_annotator, web_data, "boxer")
    img = page.get_by_alt_text("Image to annotate: drag on it to draw a box")
    expect(img).to_be_visible()
    page.wait_for_function("document.querySelector('.tw-image').naturalWidth > 0")
    box = img.bounding_box()
    _drag(page, box, 0.10, 0.20, 0.40, 0.60)  # the red square, class "square" (first, preselected)
    page.keyboard.press("2")  # class: circle
    _drag(page, box, 0.55, 0.33, 0.90, 0.80)
    _drag(page, box, 0.05, 0.05, 0.15, 0.15)  # a stray box
    expect(page.locator(".tw-boxes li")).to_have_count(3)
    page.get_by_role("button", name="Delete box 3 (circle)").click()
    expect(page.locator(".tw-boxes li")).to_have_count(2)
    answer = _submit(page)
    assert [b["label"] for b in answer.value] == ["square", "circle"]
    sq, ci = answer.value
    assert abs(sq["x"] - 0.10) < 0.02 and abs(sq["y"] - 0.20) < 0.02 and abs(sq["w"] - 0.30) < 0.02 and abs(sq["h"] - 0.40) < 0.02
    assert abs(ci["x"] - 0.55) < 0.02 and abs(ci["w"] - 0.35) < 0.02
    assert answer.label.startswith("boxes:2:")


def _join(page: Page, live_server, project, make_annotator, web_data, name: str) -> None:
    make_annotator(name)
    login(page, live_server.url, name, web_data.password)
    page.goto(f"{live_server.url}/projects/{project.pk}/tutorial/?step=1")


def test_multi_choice_tutorial_feedback_and_qualifier(page: Page, live_server, typed_project, make_annotator, web_data):
    project = typed_project("multi_choice")  # tutorial: red; qualifier: red + blue
    _join(page, live_server, project, make_annotator, web_data, "learner")
    page.get_by_label("green").check()
    page.get_by_label("blue").check()
    page.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_text("Not quite. You answered green, blue; the correct answer is red.")).to_be_visible()
    expect(page.get_by_text("Missed: red.")).to_be_visible()
    expect(page.get_by_text("Not in the answer: blue, green.")).to_be_visible()
    page.get_by_role("link", name="Go to the qualifier").click()
    page.get_by_label("red").check()
    page.get_by_label("blue").check()
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", name="Qualifier attempt 1: passed")).to_be_visible()
    expect(page.get_by_text("Your answer: red, blue — right.")).to_be_visible()


def test_bbox_tutorial_shows_which_boxes_matched(page: Page, live_server, typed_project, make_annotator, web_data):
    project = typed_project("bbox")  # tutorial example: one square at (0.1, 0.2, 0.3, 0.4)
    _join(page, live_server, project, make_annotator, web_data, "tutee")
    page.wait_for_function("document.querySelector('.tw-image').naturalWidth > 0")
    box = page.get_by_alt_text("Image to annotate: drag on it to draw a box").bounding_box()
    _drag(page, box, 0.11, 0.21, 0.41, 0.61)
    page.get_by_role("button", name="Check my answer").click()
    expect(page.get_by_text("Right! The answer is 1 box(es): 1 × square.")).to_be_visible()
    expect(page.get_by_text("1 of 1 box(es) matched")).to_be_visible()
    expect(page.get_by_alt_text("The correct boxes drawn on the image")).to_be_visible()
