"""The OpenAPI schema: served publicly, Swagger UI from our own static files, and the committed
``openapi.yaml`` kept in step with the code (CI fails when it drifts)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.validation import validate_schema

from tests.factories import annotator, customer_with_token, token_client

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi.yaml"

CUSTOMER_PATHS = {
    "/api/projects/": {"get", "post"},
    "/api/projects/{id}/": {"get"},
    "/api/projects/{id}/launch/": {"post"},
    "/api/projects/{project_pk}/items/": {"get", "post"},
    "/api/projects/{project_pk}/progress/": {"get"},
    "/api/projects/{project_pk}/delivery/": {"get"},
    # issue 5
    "/api/projects/{project_pk}/pilot/": {"post"},
    "/api/projects/{project_pk}/pilot/approve/": {"post"},
    "/api/projects/{project_pk}/spec/": {"get", "post"},
    "/api/projects/{project_pk}/deliveries/": {"get", "post"},
    "/api/projects/{project_pk}/deliveries/{number}/": {"get"},
    "/api/projects/{project_pk}/deliveries/{number}/items/": {"get"},
    "/api/projects/{project_pk}/deliveries/{number}/export/": {"get"},
    "/api/projects/{project_pk}/deliveries/{number}/audit/": {"get", "post"},
    "/api/sample-size/": {"get"},
    "/api/webhooks/": {"get", "post"},
    "/api/webhooks/{id}/": {"get", "delete"},
    "/api/webhooks/{id}/deliveries/": {"get"},
}


def generate() -> bytes:
    """The schema exactly as ``make schema`` writes it."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenApiYamlRenderer().render(schema, renderer_context={})


def test_committed_schema_matches_the_code():
    assert COMMITTED.exists(), "openapi.yaml is missing: run make schema"
    fresh = generate().decode()
    committed = COMMITTED.read_text()
    if fresh != committed:
        import difflib

        diff = "".join(
            list(difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True), "openapi.yaml", "code"))[:80]
        )
        pytest.fail(f"openapi.yaml is out of date with the API code: run make schema (and commit it)\n{diff}")


def test_committed_schema_is_valid_openapi_3():
    schema = yaml.safe_load(COMMITTED.read_text())
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    paths = {p: set(ops) - {"parameters"} for p, ops in schema["paths"].items()}
    for path, methods in CUSTOMER_PATHS.items():
        assert methods <= paths.get(path, set()), (path, paths.get(path))
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    # Item upload documents both bodies and both outcomes (new items / nothing new).
    upload = schema["paths"]["/api/projects/{project_pk}/items/"]["post"]
    assert {"application/json", "application/x-ndjson"} <= set(upload["requestBody"]["content"])
    assert {"200", "201"} <= set(upload["responses"])
    # Every POST that creates something documents the Idempotency-Key header.
    for path, ops in schema["paths"].items():
        post = ops.get("post")
        if post and any(code == "201" for code in post["responses"]):
            headers = {p["name"] for p in post.get("parameters", []) if p["in"] == "header"}
            assert "Idempotency-Key" in headers, path
    # Lists are paginated and filterable.
    items = schema["paths"]["/api/projects/{project_pk}/deliveries/{number}/items/"]["get"]
    assert {"limit", "offset", "status", "label"} <= {p["name"] for p in items["parameters"]}
    # The customer never sees is_known / known_label in any response shape.
    text = COMMITTED.read_text()
    assert "is_known" not in text and "known_label" not in text


def test_schema_generation_has_no_errors(tmp_path):
    GENERATOR_STATS.reset()
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate")
    assert not GENERATOR_STATS._error_cache, dict(GENERATOR_STATS._error_cache)


def test_schema_generation_has_no_warnings(tmp_path):
    GENERATOR_STATS.reset()
    call_command("spectacular", "--file", str(tmp_path / "schema.yaml"), "--fail-on-warn")


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "customer", "annotator"])
def test_schema_endpoint_is_public_openapi_3(who):
    if who == "anonymous":
        client = token_client(None)
    elif who == "customer":
        client = customer_with_token().client
    else:
        client = token_client(annotator())
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert r.status_code == 200
    schema = yaml.safe_load(r.content)
    assert schema["openapi"].startswith("3.")
    assert set(CUSTOMER_PATHS) <= set(schema["paths"])
    r = client.get("/api/schema/?format=json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "Cadre API"


@pytest.mark.django_db
@pytest.mark.parametrize("page,asset", [("/api/docs/", "swagger-ui-dist"), ("/api/redoc/", "redoc")])
def test_docs_pages_load_their_js_from_our_static_not_a_cdn(page, asset):
    client = token_client(None)
    r = client.get(page)
    assert r.status_code == 200
    html = r.content.decode()
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert scripts, html[:2000]
    for src in scripts:
        assert src.startswith("/static/"), f"{page} loads {src} from outside our static files"
    assert f"/static/drf_spectacular_sidecar/{asset}/" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs"):
        assert cdn not in html
    # And our static files really serve them (WhiteNoise, finders in tests).
    for src in scripts:
        js = client.get(src)
        assert js.status_code == 200, src
        body = b"".join(js.streaming_content) if js.streaming else js.content
        assert len(body) > 1000, src
