"""The ``Idempotency-Key`` header on the API's POSTs (``tasks_app.services.idempotency``).

``@idempotent`` on a view method: without the header the request runs as usual; with it, the
same key and body replay the first response (``Idempotent-Replayed: true``), a different body
gets 422, and a first request still running gets 409.
"""
from __future__ import annotations

import json
from functools import wraps

from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from . import services

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False,
    description="Any unique string (e.g. a UUID), at most 255 characters. Sending the same key and body again "
    "replays the first response instead of creating twice (header `Idempotent-Replayed: true`); the same key "
    "with another body gets 422; while the first request is still running, 409. Kept 24 hours.",
)


def idempotent(view_method):
    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not key or len(key) > services.idempotency.MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise ValidationError({"Idempotency-Key": ["Give 1 to 255 printable ASCII characters."]})
        fp = services.fingerprint(request.method, request.path, request.body)
        state = services.idempotency_begin(user=request.user, key=key, fp=fp)
        if state.outcome == "mismatch":
            return Response(
                {"detail": "This Idempotency-Key was used for a different request (method, path or body). "
                 "Use a new key for a new request."},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if state.outcome == "in_progress":
            return Response({"detail": "A request with this Idempotency-Key is still being processed; retry shortly."},
                            status=status.HTTP_409_CONFLICT)
        if state.outcome == "replay":
            rec = state.record
            return Response(rec.response_body, status=rec.response_status, headers={"Idempotent-Replayed": "true"})
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            services.idempotency_finish(record=state.record, status=500, body=None)
            raise
        data = getattr(response, "data", None)
        body = json.loads(JSONRenderer().render(data)) if data is not None else None
        services.idempotency_finish(record=state.record, status=response.status_code, body=body)
        return response

    return wrapper
