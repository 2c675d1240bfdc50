"""Fixtures of the schemathesis suites: requests go through Django's WSGI handler in this
process, on the test's own database connection and transaction."""
from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

@pytest.fixture
def wsgi_db(db, settings):
    """The test database for calls through ``WSGIHandler``: Django's handler closes the
    connection at the start and end of each request (``close_old_connections``), which
    would end the test's transaction; Django's own test client unhooks it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
