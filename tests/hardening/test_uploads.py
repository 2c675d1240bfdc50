"""Item uploads with bounded memory: a 100k-item JSON Lines upload is streamed (parsed line
by line, stored in batches of 1000 inside one transaction), a bad last row still rolls
everything back, and a body over ``CADRE_MAX_BODY_BYTES`` is a 413 with nothing stored."""
from __future__ import annotations

import io
import json
import time
import tracemalloc

import pytest

from tasks_app.api import PayloadTooLarge, stream_lines
from tasks_app.models import Item
from tests.factories import customer_with_token, make_project

pytestmark = pytest.mark.django_db

N = 100_000
PEAK_LIMIT = 60 * 1024 * 1024  # bytes traced by tracemalloc during the request


@pytest.fixture
def customer():
    return customer_with_token()


@pytest.fixture
def project(customer):
    return make_project(customer.organization, n_items=0, launch=False)


def url(project) -> str:
    return f"/api/projects/{project.pk}/items/"


def jsonl_body(n: int, *, bad_at: int | None = None) -> bytes:
    lines = []
    for i in range(n):
        row = {"external_id": f"item-{i}", "data": {"text": f"item text {i}"}}
        if i == bad_at:
            row = {"external_id": f"item-{i}"}  # no data
        lines.append(json.dumps(row))
    return ("\n".join(lines) + "\n").encode()


def regular(project):
    return Item.objects.filter(project=project, is_known=False)


def test_100k_jsonl_upload_streams_with_bounded_memory(customer, project, capsys):
    body = jsonl_body(N)
    assert len(body) < 7_000_000  # ~6.7 MB: well under the 20 MiB default limit
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    t0 = time.perf_counter()
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r.status_code == 201, r.content[:500]
    assert r.json() == {"created": N, "existing": 0}
    assert regular(project).count() == N
    assert regular(project).get(external_id="item-99999").data == {"text": "item text 99999"}
    growth = peak - base
    with capsys.disabled():
        print(f"\n[upload] {N} JSONL items ({len(body) / 1e6:.1f} MB): {seconds:.1f} s under tracemalloc, "
              f"peak traced growth {growth / 2**20:.1f} MiB (test client's copy of the body included)")
    # The body itself is ~6.7 MB and the test client copies it; the 100k rows as Python
    # objects would be far more (~100 MB for list + dicts + strings + model instances).
    assert growth < PEAK_LIMIT, f"peak traced memory grew by {growth / 2**20:.1f} MiB"

    # Again: idempotent, nothing new, nothing changed.
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    assert r.status_code == 200 and r.json() == {"created": 0, "existing": N}
    assert regular(project).count() == N


def test_bad_row_at_99999_rejects_everything(customer, project):
    before = Item.objects.count()
    body = jsonl_body(N, bad_at=N - 1)
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    assert r.status_code == 400, r.content[:500]
    assert r.json() == {"items": [f"Row {N - 1}: data: This field is required."]}
    assert Item.objects.count() == before  # the 99 batches already inserted were rolled back


def test_bad_json_on_last_line_rejects_everything(customer, project):
    before = Item.objects.count()
    body = jsonl_body(5000) + b'{"external_id": "broken", "data": \n'
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert "Line 5001" in r.json()["detail"]
    assert Item.objects.count() == before


def test_service_rule_on_last_row_rejects_everything(customer, project):
    """The service's own rule (reserved prefix), found after several batches were stored."""
    before = Item.objects.count()
    body = jsonl_body(3000) + json.dumps({"external_id": "known-1", "data": {"text": "x"}}).encode() + b"\n"
    r = customer.client.post(url(project), data=body, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert r.json() == {"items": ["Row 3000: external_id may not start with 'known-' (reserved)."]}
    assert Item.objects.count() == before


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_body_over_default_limit_is_413(customer, project, content_type):
    from django.conf import settings

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 20 * 1024 * 1024  # CADRE_MAX_BODY_BYTES default
    before = Item.objects.count()
    head = b'[{"external_id": "a", "data": {"text": "x"}}]' if content_type == "application/json" else jsonl_body(1)
    body = head + b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1 - len(head))
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    r = customer.client.post(url(project), data=body, content_type=content_type)
    assert r.status_code == 413, r.content[:300]
    assert r["Content-Type"].startswith("application/json")
    assert "CADRE_MAX_BODY_BYTES" in r.json()["detail"]
    assert Item.objects.count() == before


def test_limit_follows_the_setting(customer, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = Item.objects.count()
    r = customer.client.post(url(project), data=jsonl_body(100), content_type="application/x-ndjson")
    assert r.status_code == 413
    assert Item.objects.count() == before
    r = customer.client.post(url(project), data=jsonl_body(3), content_type="application/x-ndjson")
    assert r.status_code == 201


def test_byte_count_is_enforced_while_reading():
    """Content-Length can be absent or wrong behind some servers: the reader counts too."""
    lines = stream_lines(io.BytesIO(b"a\n" * 100), limit=150)
    with pytest.raises(PayloadTooLarge):
        list(lines)
    assert list(stream_lines(io.BytesIO(b"a\nbb\n\nccc"), limit=None)) == [b"a", b"bb", b"", b"ccc"]


def test_stream_lines_splits_across_chunks(monkeypatch):
    import tasks_app.api as api

    monkeypatch.setattr(api, "READ_CHUNK", 3)
    data = b"first line\nsecond\n\nx" + b"y" * 20 + b"\n"
    assert list(stream_lines(io.BytesIO(data), limit=len(data))) == [b"first line", b"second", b"", b"x" + b"y" * 20]
