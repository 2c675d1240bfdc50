"""Error responses of the customer API, documented once and shared by every view.

DRF answers errors in two shapes:

* ``{"detail": "<message>"}`` — authentication (401), permission (403), not found (404),
  method (405), media type (415), body too large (413), and a body that is not JSON at all
  (400 parse error);
* field errors (400) — ``{"<field>": ["<message>", ...], ...}``, where a nested field carries
  a dict, or a list of dicts (one per row; an empty dict for a good row), and rule violations
  that concern no single field come under ``non_field_errors``.

``error_responses(400, 401, ...)`` gives the ``responses`` entries a view merges into its
``extend_schema``, so every status code a view can answer is in ``openapi.yaml`` and clients
(and the schemathesis suite in ``tests/fuzz``) can rely on it.
"""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """``{"detail": "<message>"}``"""

    detail = serializers.CharField(help_text="What went wrong, for a person to read.")


class ValidationErrorSerializer(serializers.Serializer):
    """A 400: field errors keyed by field name (documentation only; see the extension below)."""


class ValidationErrorSchema(OpenApiSerializerExtension):
    """The 400 body: either ``{"detail": ...}`` (the body could not be parsed) or field errors."""

    target_class = ValidationErrorSerializer

    def get_name(self, auto_schema, direction):
        return "ValidationError"

    def map_serializer(self, auto_schema, direction):
        messages = {"type": "array", "items": {"type": "string"}}
        nested = {"type": "object", "additionalProperties": {}}
        return {
            "type": "object",
            "description": "Field errors: each key is a field of the request (`non_field_errors` for rules "
            "that concern no single field) and its value the messages, or for a nested field a dict or a "
            "list of dicts (one per row, empty for a good row). A body that could not be parsed at all "
            "gets `detail` alone.",
            "properties": {
                "detail": {"type": "string", "description": "The body could not be parsed."},
                "non_field_errors": messages,
            },
            "additionalProperties": {
                "oneOf": [
                    {"type": "array", "items": {"oneOf": [{"type": "string"}, nested]}},
                    nested,
                ]
            },
        }


_DESCRIPTIONS = {
    400: "The request is invalid: field errors, or a body that is not valid JSON / JSON Lines.",
    401: "No token, or a token that is not valid (`Authorization: Token <key>`).",
    403: "The token is valid but not a customer account's.",
    404: "No such project among your organization's projects.",
    405: "Method not allowed.",
    413: "The request body is larger than the server accepts (`CADRE_MAX_BODY_BYTES`).",
    415: "Unsupported `Content-Type` for the body.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """``{code: OpenApiResponse}`` for ``extend_schema(responses={..., **error_responses(...)})``."""
    out: dict[int, OpenApiResponse] = {}
    for code in codes:
        body = ValidationErrorSerializer if code == 400 else ErrorSerializer
        out[code] = OpenApiResponse(body, description=_DESCRIPTIONS[code])
    return out


# Every customer endpoint needs a customer's token; every endpoint under a project can 404.
AUTH_ERRORS = (401, 403)
PROJECT_ERRORS = (401, 403, 404)


def not_found(request, exception=None):
    """``handler404``: under ``/api/`` a JSON ``{"detail": ...}`` like DRF's own 404s (a path
    that matches no route, e.g. ``/api/projects/abc/items/``, never reaches DRF); the web app
    keeps Django's HTML page."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
