"""Odd and huge request bodies the generated cases rarely hit: each one must get a 4xx that
``openapi.yaml`` documents for the operation, with a body that matches it — never a 500.

Sent as raw bytes through Django's WSGI app (werkzeug's test client), the way a client on
the wire would send them.
"""
from __future__ import annotations

import json

import pytest
from django.test import override_settings
from werkzeug.test import Client

from tasks_app.models import Item, Project
from tests.factories import customer_with_token, example_specs, make_project

from tests.fuzz.test_api_fuzz import APP, schema

ITEMS = "/api/projects/{project_pk}/items/"
PROJECTS = "/api/projects/"

DEEP = 5000  # well past Python's recursion limit: the JSON decoder itself overflows
NOT_TOO_DEEP = 900  # decodes, but serializing it again overflows the stack


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def rows_json(*rows: str) -> str:
    return '{"items": [' + ", ".join(rows) + "]}"


def row(data: str, external_id: str = '"odd-1"') -> str:
    return '{"external_id": ' + external_id + ', "data": ' + data + "}"


ITEM_BODIES = {
    # name: (content type, body)
    "nul in data value": ("application/json", rows_json(row('{"text": "a\\u0000b"}'))),
    "nul in data key": ("application/json", rows_json(row('{"te\\u0000xt": "a"}'))),
    "lone surrogate in data": ("application/json", rows_json(row('{"text": "a\\ud800b"}'))),
    "nul in external_id": ("application/json", rows_json(row('{"text": "a"}', '"a\\u0000b"'))),
    "surrogate in external_id": ("application/json", rows_json(row('{"text": "a"}', '"a\\udfffb"'))),
    "nesting past the recursion limit": ("application/json", rows_json(row('{"text": ' + nested(DEEP) + "}"))),
    "nesting that decodes but cannot be stored": (
        "application/json",
        rows_json(row('{"text": ' + nested(NOT_TOO_DEEP) + "}")),
    ),
    "bare deep list": ("application/json", nested(DEEP)),
    "not utf-8": ("application/json", b'{"items": [{"external_id": "\xff\xfe", "data": {"text": "a"}}]}'),
    "truncated json": ("application/json", '{"items": [{"external_id": "a", "data": {"text": '),
    "NaN": ("application/json", rows_json(row('{"text": NaN}'))),
    "5000-digit integer": ("application/json", rows_json(row('{"text": ' + "9" * 5000 + "}"))),
    "float overflow": ("application/json", rows_json(row('{"text": 1e999}'))),
    "json null": ("application/json", "null"),
    "json string": ("application/json", '"items"'),
    "items null": ("application/json", '{"items": null}'),
    "items not a list": ("application/json", '{"items": {"external_id": "a"}}'),
    "rows not objects": ("application/json", "[1, [2], null, true]"),
    "empty items": ("application/json", '{"items": []}'),
    "empty body": ("application/json", ""),
    "external_id too long": ("application/json", rows_json(row('{"text": "a"}', '"' + "x" * 5000 + '"'))),
    "external_id a number": ("application/json", rows_json(row('{"text": "a"}', "5"))),
    "reserved external_id": ("application/json", rows_json(row('{"text": "a"}', '"known-1"'))),
    "data of another shape": ("application/json", rows_json(row('{"other": "a"}'))),
    "jsonl nul in data": ("application/x-ndjson", row('{"text": "a\\u0000b"}')),
    "jsonl lone surrogate": ("application/x-ndjson", row('{"text": "\\udc00"}')),
    "jsonl deep line": ("application/x-ndjson", row('{"text": ' + nested(DEEP) + "}")),
    "jsonl not utf-8": ("application/x-ndjson", b'{"external_id": "a", "data": {"text": "\xc3\x28"}}'),
    "jsonl not json": ("application/x-ndjson", "this is not json\n"),
    "jsonl scalar lines": ("application/x-ndjson", "1\n2\n"),
    "jsonl blank only": ("application/x-ndjson", "\n\n\n"),
    "form body": ("application/x-www-form-urlencoded", "items=1"),
    "text body": ("text/plain", "hello"),
    "xml body": ("application/xml", "<items/>"),
}


@pytest.fixture
def world(wsgi_db):
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=2, name="Odd bodies")
    return customer, project


def send(customer, method: str, path: str, body: str | bytes, content_type: str):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    client = Client(APP)
    return client.open(
        path,
        method=method,
        data=data,
        headers={"Authorization": f"Token {customer.token.key}", "Content-Type": content_type},
    )


def assert_documented_4xx(template: str, method: str, response) -> None:
    operation = schema[template][method]
    documented = set(operation.definition.raw["responses"])
    body = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500, (response.status_code, body[:500])
    assert str(response.status_code) in documented, (response.status_code, sorted(documented), body[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    operation.validate_response(response)


@pytest.mark.parametrize("name", list(ITEM_BODIES))
def test_odd_item_upload_is_a_documented_4xx(world, name):
    customer, project = world
    content_type, body = ITEM_BODIES[name]
    before = Item.objects.filter(project=project).count()
    r = send(customer, "POST", f"/api/projects/{project.pk}/items/", body, content_type)
    assert_documented_4xx(ITEMS, "POST", r)
    assert Item.objects.filter(project=project).count() == before


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_item_upload_over_the_body_limit_is_413(world, content_type):
    customer, project = world
    rows = [{"external_id": f"big-{i}", "data": {"text": "x" * 100}} for i in range(200)]
    if content_type == "application/json":
        body = json.dumps({"items": rows})
    else:
        body = "\n".join(json.dumps(r) for r in rows)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096):
        r = send(customer, "POST", f"/api/projects/{project.pk}/items/", body, content_type)
    assert r.status_code == 413, r.get_data(as_text=True)[:500]
    assert_documented_4xx(ITEMS, "POST", r)
    assert not Item.objects.filter(project=project, external_id__startswith="big-").exists()


def project_body(**changes) -> dict:
    body = {
        "name": "Odd",
        "instructions": "Choose.",
        "labels": ["positive", "negative"],
        "accuracy_target": 0.9,
        "examples": example_specs(5),
    }
    body.update(changes)
    return body


PROJECT_BODIES = {
    "nul in example data": json.dumps(project_body(examples=[{**e, "data": {"text": "a\x00"}} for e in example_specs(5)])),
    "surrogate key in example data": json.dumps(
        project_body(examples=[{**e, "data": {"\udc80": "a"}} for e in example_specs(5)])
    ),
    "nul in a label": json.dumps(project_body(labels=["pos\x00", "negative"])),
    "deep example data": json.dumps(project_body()).replace('{"text": "example 0"}', nested(DEEP)),
    "example data that decodes but cannot be stored": json.dumps(project_body()).replace(
        '{"text": "example 0"}', nested(NOT_TOO_DEEP)
    ),
    "examples not a list": json.dumps(project_body(examples={"data": 1})),
    "labels not strings": json.dumps(project_body(labels=[[1], {"a": 2}])),
    "accuracy target overflow": json.dumps(project_body()).replace('"accuracy_target": 0.9', '"accuracy_target": 1e999'),
    "huge max_answers": json.dumps(project_body(max_answers=10**30)),
}


@pytest.mark.parametrize("name", list(PROJECT_BODIES))
def test_odd_project_create_is_a_documented_4xx(world, name):
    customer, _ = world
    before = Project.objects.count()
    r = send(customer, "POST", PROJECTS, PROJECT_BODIES[name], "application/json")
    assert_documented_4xx(PROJECTS, "POST", r)
    assert Project.objects.count() == before


def test_well_formed_unicode_is_still_accepted(world):
    """The body checks refuse only what cannot be stored: emoji (astral characters, sent
    as surrogate pairs in JSON), other scripts and control characters other than NUL pass."""
    customer, project = world
    body = rows_json(row('{"text": "\\ud83d\\ude00 caf\\u00e9 \\u0001 \\u4e2d"}', '"emoji-\\ud83d\\ude00"'))
    r = send(customer, "POST", f"/api/projects/{project.pk}/items/", body, "application/json")
    assert r.status_code == 201, r.get_data(as_text=True)
    item = Item.objects.get(project=project, external_id="emoji-\U0001F600")
    assert item.data == {"text": "\U0001F600 café \x01 中"}
