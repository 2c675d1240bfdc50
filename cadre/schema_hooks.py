"""drf-spectacular post-processing: responses every API operation can give but no view declares.

- 429 ``Too Many Requests``: every endpoint is throttled (``DEFAULT_THROTTLE_CLASSES``), exports
  more tightly; the response carries ``Retry-After``.
- 503 ``Service Unavailable``: the database is unreachable (``cadre.middleware``), also with
  ``Retry-After``.

- 409 and 422 on every operation that takes an ``Idempotency-Key`` header (``tasks_app.idempotent``):
  the first request with that key is still running, or the key was used for another request.

All bodies are DRF's ``{"detail": "..."}``. Declaring them lets generated clients and the
schemathesis fuzzer treat them as documented, not as surprises."""
from __future__ import annotations

_DETAIL = "CadreErrorDetail"
_RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
_COMMON = {
    "429": "Too many requests from this client; wait `Retry-After` seconds.",
    "503": "Cadre cannot reach its database right now; retry after `Retry-After` seconds.",
}

_IDEMPOTENCY = {
    "409": "A request with this Idempotency-Key is still being processed; retry shortly.",
    "422": "This Idempotency-Key was used for a different request (method, path or body).",
}


def add_common_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[_DETAIL] = {
        "type": "object",
        "properties": {"detail": {"type": "string", "readOnly": True}},
        "required": ["detail"],
    }
    detail = {"application/json": {"schema": {"$ref": f"#/components/schemas/{_DETAIL}"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, text in _COMMON.items():
                responses.setdefault(
                    status,
                    {
                        "description": text,
                        "headers": {"Retry-After": _RETRY_AFTER},
                        "content": detail,
                    },
                )
            if any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                for status, text in _IDEMPOTENCY.items():
                    responses.setdefault(status, {"description": text, "content": detail})
    return result
