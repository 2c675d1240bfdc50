"""Customer API: item upload (JSON object, bare list, JSON Lines; idempotent; all or nothing)
and the item list (paginated, known-answer items never shown, status filter)."""
from __future__ import annotations

import json

import pytest

from tasks_app.models import Item
from tests.factories import customer_with_token, item_rows, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return customer_with_token()


@pytest.fixture
def project(customer):
    return make_project(customer.organization, n_items=0, launch=False)


def url(project) -> str:
    return f"/api/projects/{project.pk}/items/"


def regular(project):
    return Item.objects.filter(project=project, is_known=False)


def jsonl(rows) -> str:
    return "\n".join(json.dumps(r) for r in rows) + "\n"


# --- upload: the three body shapes -----------------------------------------------------

def test_upload_json_object(customer, project):
    r = customer.client.post(url(project), {"items": item_rows(3)}, format="json")
    assert r.status_code == 201, r.content
    assert r.json() == {"created": 3, "existing": 0}
    stored = {it.external_id: it.data for it in regular(project)}
    assert stored == {row["external_id"]: row["data"] for row in item_rows(3)}
    assert all(not it.is_known and it.status == "open" for it in regular(project))


def test_upload_bare_list(customer, project):
    r = customer.client.post(url(project), item_rows(4), format="json")
    assert r.status_code == 201, r.content
    assert r.json() == {"created": 4, "existing": 0}
    assert regular(project).count() == 4


def test_upload_json_lines(customer, project):
    body = jsonl(item_rows(2)) + "\n   \n" + jsonl(item_rows(1, start=2))  # blank lines are skipped
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    assert r.status_code == 201, r.content
    assert r.json() == {"created": 3, "existing": 0}
    assert set(regular(project).values_list("external_id", flat=True)) == {"item-0", "item-1", "item-2"}


def test_item_data_must_look_like_the_examples(customer, project):
    """Known-answer items are copies of examples: items shaped differently would give the
    hidden checks away, so the upload refuses them (and stores nothing)."""
    example_data = project.examples.first().data
    assert isinstance(example_data, dict)
    before = regular(project).count()
    rows = [
        {"external_id": "ok", "data": {k: "x" for k in example_data}},
        {"external_id": "a", "data": "plain string"},
        {"external_id": "c", "data": {"nested": {"url": "https://example.com/x.png"}}},
    ]
    r = customer.client.post(url(project), rows, format="json")
    assert r.status_code == 400
    body = r.content.decode()
    assert "Row 1" in body and "Row 2" in body and "Row 0" not in body
    assert "same fields as the project's examples" in body
    assert regular(project).count() == before


# --- upload: idempotence ------------------------------------------------------------------

def test_same_upload_twice_adds_nothing(customer, project):
    rows = item_rows(5)
    assert customer.client.post(url(project), {"items": rows}, format="json").status_code == 201
    before = list(regular(project).order_by("id").values_list("id", "external_id", "data"))
    r = customer.client.post(url(project), {"items": rows}, format="json")
    assert r.status_code == 200
    assert r.json() == {"created": 0, "existing": 5}
    assert list(regular(project).order_by("id").values_list("id", "external_id", "data")) == before


def test_reupload_does_not_overwrite_data_and_adds_only_new_ids(customer, project):
    customer.client.post(url(project), item_rows(2), format="json")
    changed = [{"external_id": "item-0", "data": {"text": "CHANGED"}}] + item_rows(1, start=2)
    r = customer.client.post(url(project), changed, format="json")
    assert r.status_code == 201
    assert r.json() == {"created": 1, "existing": 1}
    assert regular(project).get(external_id="item-0").data == {"text": "item text 0"}
    assert regular(project).count() == 3


def test_duplicates_inside_one_upload_are_stored_once(customer, project):
    rows = item_rows(2) + [{"external_id": "item-0", "data": {"text": "second copy"}}]
    r = customer.client.post(url(project), rows, format="json")
    assert r.status_code == 201
    assert r.json()["created"] == 2
    assert sum(r.json().values()) == 3  # every row is accounted for
    assert regular(project).count() == 2
    assert regular(project).get(external_id="item-0").data == {"text": "item text 0"}  # first row wins


def test_same_external_id_in_two_projects_is_two_items(customer, project):
    other = make_project(customer.organization, n_items=0, launch=False)
    assert customer.client.post(url(project), item_rows(1), format="json").status_code == 201
    assert customer.client.post(url(other), item_rows(1), format="json").status_code == 201
    assert Item.objects.filter(external_id="item-0").count() == 2


# --- upload: bad rows → 400, nothing stored ----------------------------------------------

BAD_ROWS = {
    "missing external_id": ({"data": {"text": "x"}}, "Row 2"),
    "missing data": ({"external_id": "x-1"}, "Row 2"),
    "null data": ({"external_id": "x-1", "data": None}, "Row 2"),
    "external_id a number": ({"external_id": 17, "data": {}}, "Row 2"),
    "external_id a list": ({"external_id": ["a"], "data": {}}, "Row 2"),
    "external_id empty": ({"external_id": "", "data": {}}, "Row 2"),
    "external_id too long": ({"external_id": "x" * 201, "data": {}}, "Row 2"),
    "reserved known- prefix": ({"external_id": "known-1", "data": {}}, "Row 2"),
    "row not an object": ("just a string", "Row 2"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS), ids=list(BAD_ROWS))
def test_bad_row_rejects_the_whole_upload(customer, project, case):
    bad, where = BAD_ROWS[case]
    rows = item_rows(2) + [bad] + item_rows(2, start=2)
    before = Item.objects.count()
    r = customer.client.post(url(project), {"items": rows}, format="json")
    assert r.status_code == 400, (case, r.content)
    messages = r.json()["items"]
    assert isinstance(messages, list) and messages
    assert any(m.startswith(where) for m in messages), messages
    assert not any(m.startswith(("Row 0", "Row 1", "Row 3", "Row 4")) for m in messages), messages
    assert Item.objects.count() == before


def test_bad_rows_in_json_lines_name_the_row(customer, project):
    body = jsonl(item_rows(1) + [{"external_id": 5, "data": {}}])
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert any(m.startswith("Row 1: external_id") for m in r.json()["items"])
    assert regular(project).count() == 0


def test_malformed_json_lines_line_names_the_line(customer, project):
    body = jsonl(item_rows(2)) + '{"external_id": "broken", "data": \n' + jsonl(item_rows(1, start=5))
    before = Item.objects.count()
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert "Line 3" in r.json()["detail"]
    assert Item.objects.count() == before


def test_json_lines_not_utf8_is_400(customer, project):
    r = customer.client.post(url(project), data=b'{"external_id": "\xff", "data": 1}\n', content_type="application/x-ndjson")
    assert r.status_code == 400
    assert "Line 1" in r.json()["detail"]


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("{not json", "application/json"),
        ("", "application/json"),
        ('{"items": []}', "application/json"),
        ("[]", "application/json"),
        ('{"items": "item-0"}', "application/json"),
        ('{"rows": [{"external_id": "a", "data": 1}]}', "application/json"),
        ('"text"', "application/json"),
        ("", "application/x-ndjson"),
    ],
    ids=["malformed", "empty body", "empty items", "empty list", "items a string", "wrong key", "a string",
         "empty jsonl"],
)
def test_bad_bodies_are_400(customer, project, body, content_type):
    before = Item.objects.count()
    r = customer.client.post(url(project), data=body, content_type=content_type)
    assert r.status_code == 400, (body, r.content)
    assert Item.objects.count() == before


def test_unsupported_content_type_is_415(customer, project):
    r = customer.client.post(url(project), data="external_id,data\na,1\n", content_type="text/csv")
    assert r.status_code == 415
    assert regular(project).count() == 0


def test_upload_to_live_project_adds_work(customer):
    project = make_project(customer.organization, n_items=2)
    r = customer.client.post(url(project), item_rows(2, start=2), format="json")
    assert r.status_code == 201 and r.json()["created"] == 2
    assert regular(project).count() == 4


# --- list ----------------------------------------------------------------------------------

def test_list_is_paginated_and_excludes_known_items(customer):
    project = make_project(customer.organization, n_items=7, launch=False)
    assert project.items.filter(is_known=True).count() == 5
    r = customer.client.get(url(project), {"limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 7
    assert [it["external_id"] for it in body["results"]] == ["item-0", "item-1", "item-2"]
    assert body["next"] and body["previous"] is None
    seen = []
    page = customer.client.get(url(project), {"limit": 3}).json()
    while True:
        seen += [it["external_id"] for it in page["results"]]
        if not page["next"]:
            break
        page = customer.client.get(page["next"]).json()
    assert seen == [f"item-{i}" for i in range(7)]
    assert not any(e.startswith("known-") for e in seen)


def test_list_does_not_mark_known_items(customer):
    project = make_project(customer.organization, n_items=2, launch=False)
    body = customer.client.get(url(project)).json()
    for it in body["results"]:
        assert set(it) == {"id", "external_id", "data", "status", "label", "value", "p_correct", "answers_count", "created_at"}
        assert "is_known" not in it and "known_label" not in it
    known_ids = set(project.items.filter(is_known=True).values_list("id", flat=True))
    assert not known_ids & {it["id"] for it in body["results"]}


def test_list_limit_is_bounded(customer):
    project = make_project(customer.organization, n_items=1005, launch=False)
    r = customer.client.get(url(project), {"limit": 10_000_000})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1005 and len(body["results"]) == 1000
    assert "limit=1000" in body["next"] and "offset=1000" in body["next"]
    assert len(customer.client.get(url(project)).json()["results"]) == 100  # default page


def test_list_status_filter(customer):
    project = make_project(customer.organization, n_items=4, launch=False)
    Item.objects.filter(project=project, external_id="item-1").update(status="accepted", label="negative", p_correct=0.97)
    Item.objects.filter(project=project, external_id="item-2").update(status="exhausted", label="positive", p_correct=0.6)
    Item.objects.filter(project=project, is_known=True).update(status="accepted")

    def ids(**params):
        r = customer.client.get(url(project), params)
        assert r.status_code == 200
        return [it["external_id"] for it in r.json()["results"]]

    assert ids(status="accepted") == ["item-1"]
    assert ids(status="exhausted") == ["item-2"]
    assert ids(status="open") == ["item-0", "item-3"]
    assert ids() == ["item-0", "item-1", "item-2", "item-3"]
    accepted = customer.client.get(url(project), {"status": "accepted"}).json()["results"][0]
    assert (accepted["label"], accepted["p_correct"]) == ("negative", 0.97)


@pytest.mark.parametrize("status", ["done", "ACCEPTED", "known"])
def test_list_bad_status_is_400(customer, status):
    project = make_project(customer.organization, n_items=1, launch=False)
    r = customer.client.get(url(project), {"status": status})
    assert r.status_code == 400
    assert "status" in r.json()


def test_other_customers_items_are_404_and_untouched(customer):
    other = customer_with_token()
    theirs = make_project(other.organization, n_items=2, launch=False)
    before = list(Item.objects.order_by("id").values_list("id", "external_id", "data"))
    assert customer.client.get(url(theirs)).status_code == 404
    assert customer.client.post(url(theirs), item_rows(3, prefix="intruder"), format="json").status_code == 404
    assert customer.client.post(url(theirs), data=jsonl(item_rows(1, prefix="x")),
                                content_type="application/x-ndjson").status_code == 404
    assert list(Item.objects.order_by("id").values_list("id", "external_id", "data")) == before
