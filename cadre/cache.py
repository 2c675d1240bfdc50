"""A Redis cache that fails open.

Cadre uses the cache for throttles and rate limits (DRF, login/sign-up) and for the
expired-lease sweep's throttle. None of them may turn a Redis outage into failed
requests: answers are still accepted while Redis is down (the scoring sweep catches up,
BENCHMARKS.md "faults"), so the web app must keep serving too. On a connection error this
backend logs a warning and behaves like an empty cache that stores nothing: reads return
the default, ``add`` says "not added", writes are dropped. Rate limits are therefore not
enforced while Redis is down — availability wins over limiting for that time.
"""
from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

log = logging.getLogger(__name__)

try:  # redis-py's connection errors
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
except ImportError:  # pragma: no cover - redis is a requirement
    DOWN = (OSError,)

_last_warning = 0.0


def _warn(op: str, exc: BaseException) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 10:  # one line per 10 s, not one per request
        _last_warning = now
        log.warning("cache unavailable (%s): %s; carrying on without it", op, exc)


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's client, but one ``redis.Redis`` per connection pool instead of a new one per
    operation (issue 9: Django builds a client on every ``get``/``set``, and redis-py copies its
    ~170 response callbacks into a new case-insensitive dict each time; that was ~6 % of the web
    worker's profile, the session read on every request). A ``redis.Redis`` only holds its pool
    and options and is thread-safe, so sharing it changes nothing else: same pools, same
    connections, same errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except DOWN as exc:
            _warn("get", exc)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except DOWN as exc:
            _warn("get_many", exc)
            return {}

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except DOWN as exc:
            _warn("add", exc)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set(key, value, timeout, version)
        except DOWN as exc:
            _warn("set", exc)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except DOWN as exc:
            _warn("set_many", exc)
            return list(data)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except DOWN as exc:
            _warn("incr", exc)
            return delta

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except DOWN as exc:
            _warn("delete", exc)
            return False

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except DOWN as exc:
            _warn("delete_many", exc)
