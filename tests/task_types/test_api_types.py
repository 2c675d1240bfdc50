"""Task types through the customer API (issue 6): each type's spec is accepted with its derived
labels and checked values; bad configs, examples and items are 400 with field errors and store nothing."""
from __future__ import annotations

import copy

import pytest

from tasks_app.models import Example, Item, Project
from tests.factories import customer_with_token

from .specs import CIRCLE, IMAGE, SQUARE, TYPES, spec

pytestmark = pytest.mark.django_db
PROJECTS = "/api/projects/"


def body(task_type: str, **overrides) -> dict:
    s = spec(task_type)
    out = {"name": f"{task_type} project", "instructions": "Do it well.", "accuracy_target": 0.9,
           "task_type": task_type, "labels": s["labels"], "type_config": s["type_config"], "examples": s["examples"]}
    out.update(overrides)
    return out


def counts():
    return Project.objects.count(), Example.objects.count(), Item.objects.count()


@pytest.fixture
def customer():
    return customer_with_token()


@pytest.mark.parametrize("task_type", TYPES)
def test_each_type_is_created_with_checked_values(customer, task_type):
    r = customer.client.post(PROJECTS, body(task_type), format="json")
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["task_type"] == task_type
    known = Item.objects.filter(project_id=out["id"], is_known=True).order_by("id")
    assert known.count() == 3 and all(k.known_label for k in known)
    if task_type == "rating":
        assert out["labels"] == ["1", "2", "3", "4", "5"] and out["type_config"]["subjective"] is True
        assert [k.known_label for k in known] == ["2", "3", "1"]
    if task_type == "most_similar":
        assert out["labels"] == ["1", "2", "3"]
    if task_type == "multi_choice":
        assert out["examples"][1]["value"] == ["red", "blue"] and out["examples"][1]["label"] == "red|blue"
    if task_type == "text":
        assert known[0].known_value == ["green"] or known[0].known_value == ["rome"]
    if task_type == "bbox":
        assert known[1].known_value == [SQUARE] and known[1].known_label.startswith("boxes:1:")


BAD_CONFIGS = [
    ("rating", {"min": 5, "max": 1}, "min < max"),
    ("rating", {"min": 1, "max": 2, "step": 0.3}, "whole number of steps"),
    ("rating", {"subjective": "yes"}, "true or false"),
    ("multi_choice", {"max_choices": 9}, "max_choices"),
    ("multi_choice", {"colour": 1}, "Unknown setting"),
    ("text", {"mode": "fuzzy"}, "mode must be one of"),
    ("bbox", {"iou": 2}, "iou must be a number"),
    ("bbox", {"image_field": "no spaces allowed"}, "image_field"),
    ("most_similar", {"n": 12}, "n must be a whole number from 2 to 9"),
    ("most_similar", {"item_field": "candidates"}, "must differ"),
    # subjective quality (hidden repeats): the least consistency asked of annotators
    ("rating", {"subjective": True, "consistency_target": 1.5}, "consistency_target must be a number from 0.05 to 0.9"),
    ("rating", {"subjective": True, "consistency_target": "high"}, "consistency_target must be a number"),
    ("rating", {"consistency_target": 0.7}, "subjective scales only"),
    ("most_similar", {"consistency_target": 0}, "consistency_target must be a number from 0.05 to 0.9"),
]


@pytest.mark.parametrize("task_type,config,message", BAD_CONFIGS)
def test_bad_type_config_is_a_400_field_error(customer, task_type, config, message):
    before = counts()
    r = customer.client.post(PROJECTS, body(task_type, type_config=config), format="json")
    assert r.status_code == 400, r.content
    assert message in " ".join(r.json()["type_config"])
    assert counts() == before


def test_consistency_target_is_kept(customer):
    r = customer.client.post(PROJECTS, body("rating", type_config={"subjective": True, "consistency_target": 0.6}), format="json")
    assert r.status_code == 201, r.content
    assert r.json()["type_config"]["consistency_target"] == 0.6


def test_labels_where_the_type_derives_them_are_refused(customer):
    r = customer.client.post(PROJECTS, body("most_similar", labels=["a", "b"]), format="json")
    assert r.status_code == 400 and "labels" in r.json()
    r = customer.client.post(PROJECTS, body("bbox", labels=[]), format="json")
    assert r.status_code == 400 and "labels" in r.json()


BAD_EXAMPLES = [
    ("multi_choice", ["purple"], "Not among the labels"),
    ("multi_choice", "red", "list of distinct labels"),
    ("rating", 7, "scale points 1..5"),
    ("text", "  !!! ", "cannot be empty"),
    ("bbox", [{"label": "square", "x": 0.9, "y": 0.1, "w": 0.5, "h": 0.2}], "inside the image"),
    ("bbox", [{"label": "triangle", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}], "not one of the classes"),
    ("bbox", [{"label": "square", "x": 0.1}], "give exactly label, x, y, w, h"),
    ("most_similar", 4, "from 1 to 3"),
]


@pytest.mark.parametrize("task_type,value,message", BAD_EXAMPLES)
def test_bad_example_value_is_a_400_naming_the_example(customer, task_type, value, message):
    b = body(task_type)
    b["examples"] = copy.deepcopy(b["examples"])
    b["examples"][2]["value"] = value
    before = counts()
    r = customer.client.post(PROJECTS, b, format="json")
    assert r.status_code == 400, r.content
    errors = " ".join(r.json()["examples"])
    assert "Example 2:" in errors and message in errors
    assert counts() == before


def test_example_data_must_fit_the_type(customer):
    b = body("bbox")
    b["examples"][0]["data"] = {"picture": IMAGE}
    r = customer.client.post(PROJECTS, b, format="json")
    assert r.status_code == 400 and "data.image must be the image's URL" in " ".join(r.json()["examples"])
    b = body("most_similar")
    b["examples"][0]["data"] = {"text": "x", "candidates": ["only one"]}
    r = customer.client.post(PROJECTS, b, format="json")
    assert r.status_code == 400 and "exactly 3 candidates" in " ".join(r.json()["examples"])


def test_item_upload_checks_the_types_data(customer):
    pid = customer.client.post(PROJECTS, body("bbox"), format="json").json()["id"]
    rows = [{"external_id": "a", "data": {"image": IMAGE, "id": 1}}, {"external_id": "b", "data": {"image": "javascript:alert(1)", "id": 2}}]
    r = customer.client.post(f"{PROJECTS}{pid}/items/", {"items": rows}, format="json")
    assert r.status_code == 400 and "Row 1: data.image" in " ".join(r.json()["items"])
    assert Item.objects.filter(project_id=pid, is_known=False).count() == 0


def test_single_choice_still_refuses_a_type_config(customer):
    b = body("multi_choice")
    b.update(task_type="single_choice", type_config={"min_choices": 1})
    b["examples"] = [{"data": {"text": f"t{i}"}, "label": ["red", "green"][i % 2]} for i in range(5)]
    r = customer.client.post(PROJECTS, b, format="json")
    assert r.status_code == 400 and "type_config" in r.json()


def test_box_values_are_stored_as_fractions_in_the_image(customer):
    r = customer.client.post(PROJECTS, body("bbox"), format="json")
    ex = r.json()["examples"][1]
    assert ex["value"] == [SQUARE, CIRCLE]


def test_spec_revision_checks_added_examples_by_the_type(customer):
    pid = customer.client.post(PROJECTS, body("bbox"), format="json").json()["id"]
    url = f"{PROJECTS}{pid}/spec/"
    bad = {"examples_added": [{"data": {"image": IMAGE, "id": 9}, "value": [{**SQUARE, "label": "star"}], "role": "known"}]}
    before = counts()
    r = customer.client.post(url, bad, format="json")
    assert r.status_code == 400 and "Example 0: Box 1: 'star' is not one of the classes." in r.json()["examples_added"]
    assert counts() == before
    good = {"labels_added": ["star"], "examples_added": [{"data": {"image": IMAGE, "id": 9}, "value": [{**SQUARE, "label": "star"}], "role": "known"}]}
    r = customer.client.post(url, good, format="json")
    assert r.status_code in (200, 201), r.content
    item = Item.objects.filter(project_id=pid, is_known=True).order_by("-id").first()
    assert item.known_value == [{**SQUARE, "label": "star"}] and item.known_label.startswith("boxes:1:")
    pid = customer.client.post(PROJECTS, body("rating"), format="json").json()["id"]
    r = customer.client.post(f"{PROJECTS}{pid}/spec/", {"labels_added": ["6"]}, format="json")
    assert r.status_code == 400 and "labels_added" in r.json()
