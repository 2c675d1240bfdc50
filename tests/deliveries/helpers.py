"""Shared builders for the delivery tests: a project worked on by real services (leases,
answers, scoring run through the on-commit callbacks)."""
from __future__ import annotations

from tests.api.test_delivery_api import work  # noqa: F401  (re-exported)
from tests.factories import annotator_working, customer_with_token, make_project


def team_of(project, n=3):
    return [annotator_working(project, qualifier=(5, 5)) for _ in range(n)]


def piloted(capture, *, n_items=12, pilot=4, **spec):
    """A customer's project in pilot on the first ``pilot`` items, with a team; nothing worked yet."""
    from tasks_app import services

    customer = customer_with_token()
    project = make_project(customer.organization, n_items=n_items, launch=False, **spec)
    project = services.project_pilot_start(project=project, size=pilot)
    return customer, project, team_of(project)
