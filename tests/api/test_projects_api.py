"""Customer API: projects — create (good spec and every kind of bad one), list/retrieve scoped
to the caller's organization, launch, progress, and every endpoint × every role."""
from __future__ import annotations

import copy

import pytest

from tasks_app.models import Answer, Example, Item, Lease, Project
from tests.factories import (
    annotator,
    annotator_working,
    customer_with_token,
    example_specs,
    item_rows,
    make_project,
    token_client,
)

pytestmark = pytest.mark.django_db

PROJECTS = "/api/projects/"


def spec(**overrides):
    body = {
        "name": "Sentiment",
        "instructions": "Is the review positive or negative?",
        "labels": ["positive", "negative"],
        "accuracy_target": 0.9,
        "examples": example_specs(10),
    }
    body.update(overrides)
    return body


def counts() -> tuple[int, int, int]:
    return Project.objects.count(), Example.objects.count(), Item.objects.count()


@pytest.fixture
def customer():
    return customer_with_token()


# --- create ---------------------------------------------------------------------------

def test_create_auto_split_roles_and_hidden_known_items(customer):
    r = customer.client.post(PROJECTS, spec(), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "draft"
    assert body["labels"] == ["positive", "negative"]
    assert body["items_total"] == 0  # known-answer items are not the customer's items
    roles = [ex["role"] for ex in body["examples"]]
    # 10 examples: first 20 % tutorial, next 30 % qualifier, the rest known.
    assert roles == ["tutorial"] * 2 + ["qualifier"] * 3 + ["known"] * 5
    assert [ex["data"] for ex in body["examples"]] == [ex["data"] for ex in example_specs(10)]
    assert [ex["label"] for ex in body["examples"]] == [ex["label"] for ex in example_specs(10)]

    project = Project.objects.get(pk=body["id"])
    assert project.organization == customer.organization
    known = list(Item.objects.filter(project=project).order_by("id"))
    assert len(known) == 5 and all(it.is_known for it in known)
    known_examples = [ex for ex in body["examples"] if ex["role"] == "known"]
    assert [it.known_label for it in known] == [ex["label"] for ex in known_examples]
    assert [it.data for it in known] == [ex["data"] for ex in known_examples]


def test_create_explicit_roles_are_honoured(customer):
    examples = example_specs(4)
    for ex, role in zip(examples, ["known", "qualifier", "tutorial", "known"]):
        ex["role"] = role
    r = customer.client.post(PROJECTS, spec(examples=examples), format="json")
    assert r.status_code == 201, r.content
    assert [ex["role"] for ex in r.json()["examples"]] == ["known", "qualifier", "tutorial", "known"]
    assert Item.objects.filter(project_id=r.json()["id"], is_known=True).count() == 2


def test_create_optional_fields(customer):
    r = customer.client.post(
        PROJECTS,
        spec(confidence=0.9, max_answers=3, annotator_bar=0.7, qualifier_pass_mark=0.6, task_type="single_choice"),
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["confidence"], body["max_answers"], body["annotator_bar"], body["qualifier_pass_mark"]) == (
        0.9, 3, 0.7, 0.6,
    )


def _roles_missing_qualifier():
    examples = example_specs(3)
    for ex, role in zip(examples, ["tutorial", "known", "known"]):
        ex["role"] = role
    return spec(examples=examples)


def _without(field):
    body = spec()
    del body[field]
    return body


def _example_bad_label():
    body = spec()
    body["examples"] = copy.deepcopy(body["examples"])
    body["examples"][3]["label"] = "neutral"
    return body


BAD_SPECS = {
    "missing name": (_without("name"), "name"),
    "missing instructions": (_without("instructions"), "instructions"),
    "missing labels": (_without("labels"), "labels"),
    "missing examples": (_without("examples"), "examples"),
    "missing accuracy_target": (_without("accuracy_target"), "accuracy_target"),
    "labels a string": (spec(labels="positive,negative"), "labels"),
    "one label": (spec(labels=["positive"], examples=example_specs(3, ["positive"])), "labels"),
    "target high": (spec(accuracy_target="high"), "accuracy_target"),
    "target 1.5": (spec(accuracy_target=1.5), "accuracy_target"),
    "target 0": (spec(accuracy_target=0), "accuracy_target"),
    "confidence 1": (spec(confidence=1), "confidence"),
    "max_answers 0": (spec(max_answers=0), "max_answers"),
    "duplicate labels": (spec(labels=["positive", "negative", "positive"]), "labels"),
    "example label not in labels": (_example_bad_label(), "examples"),
    "fewer than 3 examples": (spec(examples=example_specs(2)), "examples"),
    "no examples": (spec(examples=[]), "examples"),
    "examples not a list": (spec(examples={"data": 1, "label": "positive"}), "examples"),
    "example without data": (spec(examples=[{"label": "positive"}] * 3), "examples"),
    "unknown role": (spec(examples=[dict(ex, role="teacher") for ex in example_specs(3)]), "examples"),
    "explicit roles missing a role": (_roles_missing_qualifier(), "examples"),
    "unknown task_type": (spec(task_type="bounding_box"), "task_type"),
    "empty name": (spec(name=""), "name"),
}


@pytest.mark.parametrize("case", list(BAD_SPECS), ids=list(BAD_SPECS))
def test_create_bad_spec_is_400_with_field_errors_and_creates_nothing(customer, case):
    body, field = BAD_SPECS[case]
    before = counts()
    r = customer.client.post(PROJECTS, body, format="json")
    assert r.status_code == 400, (case, r.content)
    assert field in r.json(), r.json()
    assert counts() == before


def test_create_malformed_json_is_400_and_creates_nothing(customer):
    before = counts()
    r = customer.client.post(PROJECTS, data='{"name": "x", "labels": [', content_type="application/json")
    assert r.status_code == 400
    assert "detail" in r.json()
    assert counts() == before


@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null"])
def test_create_body_not_an_object_is_400(customer, body):
    before = counts()
    r = customer.client.post(PROJECTS, data=body, content_type="application/json")
    assert r.status_code == 400, r.content
    assert counts() == before


def test_create_form_encoded_is_415(customer):
    r = customer.client.post(PROJECTS, {"name": "x"})  # multipart: the spec is JSON only
    assert r.status_code == 415
    assert Project.objects.count() == 0


# --- list / retrieve ------------------------------------------------------------------

def test_list_and_retrieve_only_own_organization(customer):
    mine = make_project(customer.organization, n_items=3, launch=False, name="mine")
    other = customer_with_token()
    theirs = make_project(other.organization, n_items=2, name="theirs")

    r = customer.client.get(PROJECTS)
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    assert [p["id"] for p in body["results"]] == [mine.pk]
    assert body["results"][0]["items_total"] == 3

    r = customer.client.get(f"{PROJECTS}{mine.pk}/")
    assert r.status_code == 200
    assert r.json()["name"] == "mine"
    assert len(r.json()["examples"]) == 10

    assert customer.client.get(f"{PROJECTS}{theirs.pk}/").status_code == 404
    assert customer.client.get(f"{PROJECTS}999999/").status_code == 404
    # The other customer sees theirs and not mine.
    assert [p["id"] for p in other.client.get(PROJECTS).json()["results"]] == [theirs.pk]


def test_colleague_in_same_organization_sees_the_project(customer):
    project = make_project(customer.organization, n_items=1)
    colleague = customer_with_token(customer.organization)
    assert colleague.client.get(f"{PROJECTS}{project.pk}/").status_code == 200


def test_list_is_paginated(customer):
    for i in range(3):
        make_project(customer.organization, n_items=0, launch=False, name=f"p{i}")
    r = customer.client.get(PROJECTS, {"limit": 2})
    body = r.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    r = customer.client.get(PROJECTS, {"limit": 2, "offset": 2})
    assert len(r.json()["results"]) == 1 and r.json()["next"] is None


# --- launch ---------------------------------------------------------------------------

def test_launch_without_items_is_400(customer):
    project = make_project(customer.organization, n_items=0, launch=False)
    r = customer.client.post(f"{PROJECTS}{project.pk}/launch/")
    assert r.status_code == 400
    assert "items" in r.json()
    project.refresh_from_db()
    assert project.status == "draft" and project.launched_at is None


def test_launch_with_items_goes_live_and_twice_is_fine(customer):
    project = make_project(customer.organization, n_items=2, launch=False)
    r = customer.client.post(f"{PROJECTS}{project.pk}/launch/")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "live" and r.json()["launched_at"]
    launched_at = r.json()["launched_at"]
    r = customer.client.post(f"{PROJECTS}{project.pk}/launch/")
    assert r.status_code == 200
    assert r.json()["status"] == "live" and r.json()["launched_at"] == launched_at


def test_launch_needs_regular_items_not_just_known_ones(customer):
    project = make_project(customer.organization, n_items=0, launch=False)
    assert project.items.filter(is_known=True).exists()
    assert customer.client.post(f"{PROJECTS}{project.pk}/launch/").status_code == 400


# --- progress -------------------------------------------------------------------------

def test_progress_numbers_add_up(customer, django_capture_on_commit_callbacks):
    from tasks_app import services

    project = make_project(customer.organization, n_items=6)
    m = annotator_working(project, qualifier=(5, 5))
    for _ in range(3):
        lease = services.lease_next(project=project, annotator=m.annotator, known_check_rate=0.0)
        item = lease.item
        with django_capture_on_commit_callbacks(execute=True):
            services.answer_submit(annotator=m.annotator, lease_id=lease.pk, label="positive", client_key=f"k{item.pk}")

    r = customer.client.get(f"{PROJECTS}{project.pk}/progress/")
    assert r.status_code == 200
    p = r.json()
    assert p["project"] == project.pk and p["status"] == "live"
    assert p["items_total"] == 6
    assert p["items_total"] == p["items_accepted"] + p["items_uncertain"] + p["items_pending"]
    assert p["answers"] == 3 and p["known_checks"] == 0 and p["answers_unscored"] == 0
    assert p["annotators_active"] == 1 and p["annotators_warned"] == 0 and p["annotators_revoked"] == 0


def test_progress_of_an_empty_project(customer):
    project = make_project(customer.organization, n_items=0, launch=False)
    p = customer.client.get(f"{PROJECTS}{project.pk}/progress/").json()
    assert p["items_total"] == p["items_accepted"] == p["items_uncertain"] == p["items_pending"] == 0


# --- every endpoint × every role ------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/projects/"),
    ("post", "/api/projects/"),
    ("get", "/api/projects/{pk}/"),
    ("post", "/api/projects/{pk}/launch/"),
    ("get", "/api/projects/{pk}/items/"),
    ("post", "/api/projects/{pk}/items/"),
    ("get", "/api/projects/{pk}/progress/"),
    ("get", "/api/projects/{pk}/delivery/"),
]
# Expected status per role; None = the endpoint's own success code.
ROLES = {"anonymous": 401, "bad token": 401, "annotator": 403, "other customer": 404, "owner": None}
PROJECT_SCOPED = {"/api/projects/"}


def _payload(method, url):
    if method != "post":
        return None
    if url.endswith("/items/"):
        return {"items": item_rows(2, prefix="role")}
    if url == "/api/projects/":
        return spec()
    return None


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("method,url", ENDPOINTS, ids=[f"{m} {u}" for m, u in ENDPOINTS])
def test_every_endpoint_every_role(role, method, url):
    owner = customer_with_token()
    project = make_project(owner.organization, n_items=2, launch=False)
    if role == "anonymous":
        client = token_client(None)
    elif role == "bad token":
        client = token_client(None)
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    elif role == "annotator":
        client = token_client(annotator())
    elif role == "other customer":
        client = customer_with_token().client
    else:
        client = owner.client
    before = (counts(), Project.objects.get(pk=project.pk).status, Lease.objects.count(), Answer.objects.count())

    r = getattr(client, method)(url.format(pk=project.pk), _payload(method, url), format="json")

    expected = ROLES[role]
    if role == "other customer" and url in PROJECT_SCOPED:
        expected = None  # the collection itself is theirs to use (their own, empty list / new project)
    if expected is None:
        assert r.status_code in (200, 201), (role, method, url, r.status_code, r.content)
    else:
        assert r.status_code == expected, (role, method, url, r.status_code, r.content)
        after = (counts(), Project.objects.get(pk=project.pk).status, Lease.objects.count(), Answer.objects.count())
        assert after == before, "a refused request changed something"
        if expected == 404 and method == "get":
            assert "positive" not in r.content.decode()  # nothing of the project leaks
