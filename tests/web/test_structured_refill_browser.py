"""Structured answers survive a form error (issue 6, remaining gaps): the qualifier re-renders
with the error and every question's boxes / ticked options as the annotator left them, and the
refilled answers post again unchanged. Driven in Debian's Chromium (Playwright)."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tasks_app import services as task_services
from tasks_app.models import Example
from tests.task_types.specs import IMAGE
from tests.web.helpers import login
from tests.web.test_task_types_browser import _drag
from workforce import services as wf_services
from workforce.models import QualifierAttempt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _project(organization, task_type: str, labels: list[str], config: dict, answers: list, data):
    roles = ["tutorial", "qualifier", "qualifier", "known", "known"]
    examples = [task_services.ExampleIn(data=data(i), value=a, role=r, explanation="because")
                for i, (a, r) in enumerate(zip(answers, roles))]
    project = task_services.project_create(
        organization=organization, name=f"{task_type} refill", instructions="Answer carefully.", accuracy_target=0.9,
        task_type=task_type, labels=labels, type_config=config, examples=examples,
    )
    task_services.items_upload(project=project, rows=[{"external_id": f"i{i}", "data": data(10 + i)} for i in range(2)])
    return task_services.project_launch(project=project)


def _sit(page: Page, live_server, project, make_annotator, web_data, name: str):
    user = make_annotator(name)
    m = wf_services.membership_join(project=project, annotator=user)
    wf_services.tutorial_complete(membership=m)
    login(page, live_server.url, name, web_data.password)
    page.goto(f"{live_server.url}/projects/{project.pk}/qualifier/")
    questions = page.locator("fieldset.question")
    expect(questions).to_have_count(2)
    return user, questions


def _question_ids(page: Page) -> list[int]:
    return [int(v.split("-")[1]) for v in page.locator("fieldset.question .tw-value").evaluate_all("els => els.map(e => e.name)")]


def test_multi_choice_ticks_come_back_after_an_error(page: Page, live_server, organization, make_annotator, web_data):
    project = _project(organization, "multi_choice", ["red", "green", "blue"], {"min_choices": 1},
                       [["red"], ["red", "blue"], ["green"], ["blue"], ["red"]], lambda i: {"text": f"Flag #{i}"})
    user, questions = _sit(page, live_server, project, make_annotator, web_data, "ticker")
    first, second = questions.nth(0), questions.nth(1)
    first.get_by_label("red").check()
    first.get_by_label("blue").check()  # the second question is left with nothing ticked: at least 1 is required
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_text("Question 2: Choose from 1 to 3 labels.")).to_be_visible()
    expect(first.get_by_label("red")).to_be_checked()
    expect(first.get_by_label("blue")).to_be_checked()
    expect(first.get_by_label("green")).not_to_be_checked()
    ids = _question_ids(page)
    second.get_by_label("green").check()
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", name=re.compile("Qualifier attempt 1"))).to_be_visible()
    attempt = QualifierAttempt.objects.get(membership__annotator=user)
    assert json.loads(attempt.responses[str(ids[0])]) == ["red", "blue"]
    assert json.loads(attempt.responses[str(ids[1])]) == ["green"]


def test_boxes_come_back_after_an_error(page: Page, live_server, organization, make_annotator, web_data):
    square = {"label": "square", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}
    project = _project(organization, "bbox", ["square", "circle"], {"image_field": "image", "max_boxes": 1},
                       [[square]] * 5, lambda i: {"image": IMAGE, "id": i})
    user, questions = _sit(page, live_server, project, make_annotator, web_data, "boxer")
    page.wait_for_function("Array.from(document.querySelectorAll('.tw-image')).every(i => i.naturalWidth > 0)")
    first, second = questions.nth(0), questions.nth(1)
    first.locator(".tw-image").scroll_into_view_if_needed()
    _drag(page, first.locator(".tw-image").bounding_box(), 0.10, 0.20, 0.40, 0.60)
    second.locator(".tw-image").scroll_into_view_if_needed()
    box2 = second.locator(".tw-image").bounding_box()
    _drag(page, box2, 0.10, 0.20, 0.40, 0.60)
    _drag(page, box2, 0.60, 0.60, 0.90, 0.90)  # one box too many (max_boxes 1)
    expect(second.locator(".tw-boxes li")).to_have_count(2)
    drawn = json.loads(first.locator(".tw-value").input_value())
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_text("Question 2: At most 1 boxes.")).to_be_visible()
    first, second = page.locator("fieldset.question").nth(0), page.locator("fieldset.question").nth(1)
    expect(first.locator(".tw-boxes li")).to_have_count(1)
    expect(second.locator(".tw-boxes li")).to_have_count(2)
    expect(first.locator(".tw-box")).to_have_count(1)  # drawn on the image again, not only listed
    assert json.loads(first.locator(".tw-value").input_value()) == drawn
    ids = _question_ids(page)
    second.get_by_role("button", name="Delete box 2 (square)").click()
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", name=re.compile("Qualifier attempt 1"))).to_be_visible()
    attempt = QualifierAttempt.objects.get(membership__annotator=user)
    assert json.loads(attempt.responses[str(ids[0])]) == drawn
    assert len(json.loads(attempt.responses[str(ids[1])])) == 1


# --- the expert queue: typed values with the annotators' widgets ------------------------------

def test_ops_resolve_a_text_review_item_and_an_exhausted_bbox_item(page: Page, live_server, staff, web_data):
    from quality.models import ExpertReview
    from tests.task_types.test_structured_delivery import exhausted_bbox_item, review_item

    _, text_project, text_item = review_item()
    _, box_project, box_item = exhausted_bbox_item()
    login(page, live_server.url, staff.username, web_data.password)

    # review mode: the annotator's answer is in the text area; a bad correction is a form error, then a good one
    page.goto(f"{live_server.url}/ops/projects/{text_project.pk}/expert/")
    card = page.locator(f"#expert-item-{text_item.pk}")
    expect(card.get_by_text("Annotator's answer: “Paris,  France”")).to_be_visible()
    area = card.get_by_label("Your answer")
    expect(area).to_have_value("Paris,  France")
    area.fill("?!")
    card.get_by_role("button", name="Resolve item i0").click()
    expect(page.get_by_role("alert")).to_contain_text("Write an answer")  # once, beside the item
    assert ExpertReview.objects.count() == 0
    card = page.locator(f"#expert-item-{text_item.pk}")
    expect(card.get_by_label("Your answer")).to_have_value("?!")  # what the expert posted, not lost
    card.get_by_label("Your answer").fill("Paris, Île-de-France")
    card.get_by_role("button", name="Resolve item i0").click()
    expect(page.get_by_text("Nothing waiting for an expert.")).to_be_visible()
    text_item.refresh_from_db()
    assert (text_item.status, text_item.value, text_item.label) == ("accepted", "Paris, Île-de-France", "paris île de france")

    # exhausted boxes: the engine's guess is drawn; delete it, draw a circle, resolve
    page.goto(f"{live_server.url}/ops/projects/{box_project.pk}/expert/")
    card = page.locator(f"#expert-item-{box_item.pk}")
    page.wait_for_function("document.querySelector('.tw-image').naturalWidth > 0")
    expect(card.locator(".tw-boxes li")).to_have_count(len(box_item.value or []))
    while card.locator(".tw-delete").count():
        card.locator(".tw-delete").first.click()
    card.get_by_label("circle").check()
    card.locator(".tw-image").scroll_into_view_if_needed()
    _drag(page, card.locator(".tw-image").bounding_box(), 0.55, 0.33, 0.90, 0.80)
    expect(card.locator(".tw-boxes li")).to_have_count(1)
    card.get_by_role("button", name="Resolve item i0").click()
    expect(page.get_by_text("Nothing waiting for an expert.")).to_be_visible()
    box_item.refresh_from_db()
    assert box_item.status == "accepted" and [b["label"] for b in box_item.value] == ["circle"]
    (b,) = box_item.value
    assert abs(b["x"] - 0.55) < 0.02 and abs(b["w"] - 0.35) < 0.02
    assert ExpertReview.objects.get(item=box_item).value == box_item.value


def test_task_page_reports_the_image_size_once(page: Page, live_server, organization, make_annotator, web_data):
    from tasks_app.models import Item
    from tests.factories import annotator_working
    from tests.task_types.specs import spec

    s = spec("bbox")
    project = task_services.project_create(
        organization=organization, name="boxes", instructions="Box it.", accuracy_target=0.9, task_type="bbox",
        labels=s["labels"], type_config=s["type_config"], examples=[task_services.ExampleIn(**ex) for ex in s["examples"]],
    )
    task_services.items_upload(project=project, rows=[{"external_id": "i0", "data": s["item_data"](0)}])
    project = task_services.project_launch(project=project)
    user = make_annotator("sizer")
    annotator_working(project, user)
    login(page, live_server.url, "sizer", web_data.password)
    page.goto(f"{live_server.url}/projects/{project.pk}/task/")
    page.wait_for_function("document.querySelector('.tw-image').naturalWidth > 0")
    _drag(page, page.locator(".tw-image").bounding_box(), 0.10, 0.20, 0.40, 0.60)
    expect(page.locator("input[name=image_size]")).to_have_value('{"width":400,"height":300}')
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Answer saved")).to_be_visible()
    answered = [i for i in Item.objects.filter(project=project) if i.answers_count]
    assert answered and all((i.data["width"], i.data["height"]) == (400, 300) for i in answered)
