"""The Redis cache fails open: with Redis away, throttled API calls and next-task still work."""
from __future__ import annotations

import socket

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.factories import customer_with_token, make_project


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DOWN_CACHE = {
    "default": {
        "BACKEND": "cadre.cache.FailOpenRedisCache",
        "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def test_down_cache_behaves_like_an_empty_one():
    with override_settings(CACHES=DOWN_CACHE):
        cache = caches.create_connection("default")
        assert cache.get("k", "dflt") == "dflt"
        assert cache.add("k", 1) is False
        cache.set("k", 1)
        assert cache.get_many(["k"]) == {}
        assert cache.incr("k") == 1
        cache.delete("k")


@pytest.mark.django_db
def test_api_and_next_task_work_while_redis_cache_is_down():
    from tasks_app import services
    from tests.factories import annotator

    customer = customer_with_token()
    project = make_project(customer.organization, n_items=2)
    with override_settings(CACHES=DOWN_CACHE):  # Django rebuilds caches["default"] from it
        assert type(caches["default"]).__name__ == "FailOpenRedisCache"
        resp = customer.client.get("/api/projects/")  # DRF throttles read and write the cache
        assert resp.status_code == 200
        lease = services.lease_next(project=project, annotator=annotator(), known_check_rate=0.0)
        assert lease is not None


def test_one_redis_client_per_pool_and_it_still_works():
    """Issue 9: the cache keeps one ``redis.Redis`` per connection pool instead of building one per
    call (the session read on every request did); values still round-trip through the real Redis."""
    import os
    import uuid

    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL")
    with override_settings(CACHES={"default": {"BACKEND": "cadre.cache.FailOpenRedisCache", "LOCATION": url}}):
        cache = caches.create_connection("default")
        client = cache._cache.get_client(write=True)
        assert cache._cache.get_client() is client and cache._cache.get_client(write=True) is client
        key = f"test-reuse-{uuid.uuid4().hex}"
        cache.set(key, {"a": 1}, 30)
        assert cache.get(key) == {"a": 1}
        assert cache.add(key, 2, 30) is False
        cache.delete(key)
        assert cache.get(key, "gone") == "gone"
