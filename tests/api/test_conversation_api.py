"""A conversation project is created through the customer API like every other task type: its
spec (two roles, turn limits, the labelling project) is checked there, with field errors."""
from __future__ import annotations

import pytest

from tasks_app.models import Project
from tests.api.test_projects_api import PROJECTS, counts, spec
from tests.factories import customer_with_token

pytestmark = pytest.mark.django_db

ROLES = [{"name": "Flower seller", "instructions": "Sell a bouquet."}, {"name": "Buyer", "instructions": "Buy one."}]


def test_conversation_project_through_the_api():
    customer = customer_with_token()
    labelling = customer.client.post(PROJECTS, spec(name="Rate dialogues"), format="json")
    assert labelling.status_code == 201, labelling.content
    body = spec(name="Flower shop", task_type="conversation",
                type_config={"roles": ROLES, "max_turns": 8, "labelling_project": labelling.json()["id"]})
    r = customer.client.post(PROJECTS, body, format="json")
    assert r.status_code == 201, r.content
    project = Project.objects.get(pk=r.json()["id"])
    assert project.task_type == "conversation"
    assert project.type_config["max_turns"] == 8 and project.type_config["min_turns"] == 4
    assert [role["name"] for role in project.type_config["roles"]] == ["Flower seller", "Buyer"]
    assert project.type_config["labelling_project"] == labelling.json()["id"]


@pytest.mark.parametrize("config", [
    {"roles": ROLES[:1]},                                   # one role
    {"roles": ROLES, "max_turns": 1},                       # out of bounds
    {"roles": ROLES, "labelling_project": 999999},          # not the customer's project
    "two people",                                           # not an object
])
def test_bad_conversation_spec_is_400_and_creates_nothing(config):
    customer = customer_with_token()
    before = counts()
    r = customer.client.post(PROJECTS, spec(task_type="conversation", type_config=config), format="json")
    assert r.status_code == 400, r.content
    assert any(k.startswith("type_config") for k in r.json()), r.json()
    assert counts() == before


def test_another_organizations_project_cannot_be_the_labelling_project():
    other = customer_with_token()
    theirs = other.client.post(PROJECTS, spec(name="Theirs"), format="json").json()["id"]
    customer = customer_with_token()
    r = customer.client.post(PROJECTS, spec(task_type="conversation",
                                            type_config={"roles": ROLES, "labelling_project": theirs}), format="json")
    assert r.status_code == 400 and "type_config.labelling_project" in r.json(), r.json()
