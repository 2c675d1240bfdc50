"""Sessions read from the cache, written through to the database (``cached_db``), with the cached
copy kept at most ``CADRE_SESSION_CACHE_SECONDS`` (default 300).

Why: the annotator loop (next task, submit) is the hottest path and a session row read per
request was one of its fixed queries (issue 9, BENCHMARKS.md "Load"). Why the cap: the cache
fails open (``cadre/cache.py``), so a logout while Redis is away deletes the database row but
cannot delete the cached copy; without a cap that copy would keep the session alive for its
whole lifetime (two weeks) once Redis is back. With the cap it lives at most five minutes.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends import cached_db


class _CappedCache:
    """The cache with every ``set`` timeout capped; everything else passes through."""

    def __init__(self, cache, cap: int):
        self._cache = cache
        self._cap = cap

    def set(self, key, value, timeout=None, **kwargs):
        timeout = self._cap if timeout is None else min(int(timeout), self._cap)
        return self._cache.set(key, value, timeout, **kwargs)

    def __contains__(self, key):
        return key in self._cache

    def __getattr__(self, name):
        return getattr(self._cache, name)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _CappedCache(self._cache, int(getattr(settings, "CADRE_SESSION_CACHE_SECONDS", 300)))
