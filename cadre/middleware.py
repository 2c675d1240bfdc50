"""Turn a database outage into a clean 503 instead of a 500 traceback.

While PostgreSQL restarts (or is unreachable), a view's first query raises
``django.db.OperationalError`` (cannot connect, server closed the connection) or
``InterfaceError`` (connection already closed). Those are not bugs in the request: answer
503 with ``Retry-After`` — JSON ``{"detail": ...}`` under ``/api/``, a short HTML page for the
web app — and log one warning line. Nothing here touches the database (no templates with
context processors, no ``request.user``), so the answer itself cannot fail the same way.

Recovery needs no restart of the web process: Django closes a connection that raised at
the end of the request, and ``CONN_HEALTH_CHECKS`` (settings) pings a persistent connection
before reusing it, so the next request after the database returns connects afresh.
"""
from __future__ import annotations

import json
import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DETAIL = "The database is unavailable for a moment. Please retry shortly."
PAGE = (
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Back in a moment · Cadre</title>"
    "</head><body><h1>Back in a moment</h1><p>Cadre cannot reach its database right now. Your work so far "
    "is saved; please reload this page in a few seconds.</p></body></html>"
)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("database unavailable on %s %s: %s", request.method, request.path, str(exception).strip()[:200])
        if request.path.startswith("/api/"):
            response = HttpResponse(json.dumps({"detail": DETAIL}), status=503, content_type="application/json")
        else:
            response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response


class BodyTooLargeMiddleware:
    """Refuse any request whose declared body is larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    (``CADRE_MAX_BODY_BYTES``) with 413 before a view reads it. DRF's parsers read the raw
    stream, which Django's own limit does not cover; the streamed item upload also counts
    the bytes it reads (for bodies without a Content-Length)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            detail = f"Request body of {length} bytes is over the limit of {limit} bytes (CADRE_MAX_BODY_BYTES)."
            if request.path.startswith("/api/"):
                return HttpResponse(json.dumps({"detail": detail}), status=413, content_type="application/json")
            return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
