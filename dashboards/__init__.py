"""Ops staff dashboards (issue 7): the top of the import order (dashboards → quality →
workforce → tasks_app). It reads from every app and writes only its own review records;
nothing imports it."""
