"""Oversize request bodies get 413 on every endpoint, before anything reads them."""
from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tasks_app.models import Project
from tests.factories import customer_with_token, example_specs


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_project_create_over_the_limit_is_413_and_stores_nothing():
    customer = customer_with_token()
    spec = {"name": "big", "instructions": "x" * 5000, "labels": ["a", "b"], "accuracy_target": 0.9,
            "examples": example_specs(3)}
    resp = customer.client.post("/api/projects/", json.dumps(spec), content_type="application/json")
    assert resp.status_code == 413
    assert "over the limit" in resp.json()["detail"]
    assert Project.objects.count() == 0


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_web_form_over_the_limit_is_413(client):
    resp = client.post("/signup/", {"username": "u" * 3000, "password": "p"})
    assert resp.status_code == 413
