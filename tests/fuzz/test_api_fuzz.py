"""Schemathesis against the committed ``openapi.yaml``, in-process through Django's WSGI app.

Every operation of the customer API gets generated requests (valid and invalid ones: the
default generation modes) sent with a customer's token. Path ids point at a project that
exists and belongs to that customer most of the time, so the calls reach the views; the rest
keep the generated id and must come back as a documented 404. Each response must not be a
5xx, its status code must be one the schema documents for the operation, and its body must
match the schema for that status code.

Bounded for CI: ``MAX_EXAMPLES`` per operation, derandomized (the same cases every run, no
example database), no deadline. Runs on the PostgreSQL test database: the WSGI calls run in
this process and share the test's transaction.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import customer_with_token, make_project

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 30

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PATH_IDS = ("id", "project_pk")

APP = WSGIHandler()


@dataclass
class World:
    customer: object
    own: list[int]  # the customer's projects: a launched one with items, a draft without
    foreign: int  # another organization's project: must be a 404 for this customer


@pytest.fixture
def world(wsgi_db):
    customer = customer_with_token()
    live = make_project(customer.organization, n_items=5, name="Fuzz live")
    draft = make_project(customer.organization, n_items=0, launch=False, name="Fuzz draft")
    foreign = make_project(customer_with_token().organization, n_items=1, name="Someone else's")
    return World(customer=customer, own=[live.pk, draft.pk], foreign=foreign.pk)


def _path_id(generated, world: World):
    """The generated id, steered: of eight integers, five become one of the customer's
    projects (so the request reaches the view), one another organization's project (404),
    and two stay as generated (almost always a 404). Anything that is not an integer stays
    too (the URL resolver's 404, JSON under /api/)."""
    value = generated
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return generated
    slot = value % 8
    if slot < 5:
        return world.own[slot % len(world.own)]
    if slot == 5:
        return world.foreign
    return generated


def _is_positive(case) -> bool:
    return case.meta is not None and not case.meta.generation.mode.is_negative


def _steer_body(case) -> None:
    """Random bodies almost never pass the service's rules (distinct labels, example labels
    among them, at least 3 examples; items shaped like the examples), so nothing would ever
    reach the success path and its response schema. For half of the valid (positive) bodies,
    keep the generated values but arrange them so they pass those rules."""
    body = case.body
    if not _is_positive(case) or not isinstance(body, dict):
        return
    key = case.operation.label
    if key == "POST /api/projects/":
        labels, examples = body.get("labels"), body.get("examples")
        if not (isinstance(labels, list) and isinstance(examples, list)):
            return
        if len(str(body.get("name", ""))) % 2:
            return
        labels = list(dict.fromkeys(labels))
        for filler in ("fuzz-a", "fuzz-b"):
            if len(labels) < 2:
                labels.append(filler)
        examples = [dict(examples[i % len(examples)]) if examples else {} for i in range(max(3, len(examples)))]
        data = examples[0].get("data")
        for i, example in enumerate(examples):
            example["label"] = labels[i % len(labels)]
            example["role"] = None
            example["data"] = data if data is not None else {"text": str(body.get("name"))}
        body["labels"], body["examples"] = labels, examples
    elif key == "POST /api/projects/{project_pk}/items/":
        rows = body.get("items")
        if not isinstance(rows, list) or len(rows) % 2:
            return
        for row in rows:
            if isinstance(row, dict) and isinstance(row.get("external_id"), str):
                row["data"] = {"text": row["external_id"]}  # the examples' shape (tests.factories)


@schemathesis.serializer("application/x-ndjson")
def _json_lines(ctx, value) -> bytes:
    """JSON Lines as the API reads it: one item object per line."""
    if isinstance(value, dict) and isinstance(value.get("items"), list):
        return "\n".join(json.dumps(row) for row in value["items"]).encode()
    return json.dumps(value).encode()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_committed_schema(case, world):
    for name in PATH_IDS:
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = _path_id(case.path_parameters[name], world)
    _steer_body(case)
    response = case.call_and_validate(
        app=APP,
        headers={"Authorization": f"Token {world.customer.token.key}"},
        checks=CHECKS,
    )
    if os.environ.get("FUZZ_STATS"):  # FUZZ_STATS=<file>: one line per call, to see what the run reached
        with open(os.environ["FUZZ_STATS"], "a") as out:
            phase = case.meta.phase.name.value if case.meta else "-"
            mode = case.meta.generation.mode.value if case.meta else "-"
            out.write(f"{case.operation.label}\t{response.status_code}\t{phase}\t{mode}\t{response.text[:300]!r}\n")
