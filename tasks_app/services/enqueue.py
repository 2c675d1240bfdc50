"""Sending Celery tasks by name after commit (how tasks_app starts work in quality), and the
coalesced scoring signal: one drain task per burst of submitted answers instead of one task
per answer, woken through a Redis list while it stays resident (issue 9/4)."""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError


SCORE_TASK = "quality.score_answer"
# The coalesced drain (quality/tasks.py): scores every unscored answer in id order.
DRAIN_TASK = "quality.score_pending"
# How long the "a drain is running or queued" flag lives without its drain renewing it: a drain
# renews it at most once a second while it runs or waits for a wake, so this only bounds how long a drain killed mid-run (SIGKILL, the
# flag left set) holds back the next submit's publish. The sweep re-sends what it stranded.
DRAIN_FLAG_TTL = 10

log = logging.getLogger(__name__)

# What a send raises when the broker is unreachable: kombu wraps connection errors once its
# publish retries are spent; the raw socket/redis errors can surface on the first connect.
BROKER_ERRORS = (BrokerOperationalError, RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError,
                 RedisError)

_clients: dict[tuple[str, float], Any] = {}


def _flag_redis(socket_timeout: float = 2.0):
    """A Redis client on the broker's server (the flag lives next to the queue it guards), or
    None when the broker is not Redis (the embedded run, eager tests). One per process, URL and
    socket timeout: created lazily, so a prefork child makes its own. The submit side keeps the
    2 s timeout; the drain asks for one longer than its wake wait (a ``BLPOP`` that blocks past
    the socket timeout raises in redis-py)."""
    conf = current_app.conf
    url = conf.broker_url or ""
    if conf.task_always_eager or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = _clients.get((url, socket_timeout))
    if client is None:
        import redis

        client = _clients[(url, socket_timeout)] = redis.Redis.from_url(url, socket_connect_timeout=1,
                                                                        socket_timeout=socket_timeout)
    return client


def drain_flag_key() -> str:
    # per queue: the test suite's worker and the developer's share one Redis server
    return f"cadre:score-drain:{current_app.conf.task_default_queue}"


def drain_wake_key() -> str:
    # derived from the flag's key, so a test that gives the flag a key of its own gets its own list
    return f"{drain_flag_key()}:wake"


# The wake list holds at most one element (a wake is "something was committed since your last
# pop", not a count) and disappears this long after the last push when no drain pops it.
DRAIN_WAKE_TTL = 60


def drain_flag_claim(client=None) -> bool:
    """``SET NX`` the drain flag: True if this caller set it (and must make sure a drain runs)."""
    client = client or _flag_redis()
    return bool(client.set(drain_flag_key(), uuid.uuid4().hex, nx=True, ex=DRAIN_FLAG_TTL))


def drain_flag_renew(client=None) -> None:
    """A running drain says it is alive (``SET`` again, not ``EXPIRE``: the flag may have lapsed)."""
    client = client or _flag_redis()
    client.set(drain_flag_key(), "draining", ex=DRAIN_FLAG_TTL)


def drain_flag_clear(client=None) -> None:
    client = client or _flag_redis()
    client.delete(drain_flag_key())


# SET the flag NX; if a drain holds it, push a wake (the list kept at one element, expiring).
# One command (EVALSHA): a pipeline of the four cost the submit twice a SET's client CPU, and a
# drain published by this call needs no wake (its first read comes after this commit).
_SIGNAL_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
redis.call('LPUSH', KEYS[2], 1)
redis.call('LTRIM', KEYS[2], 0, 0)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 0
"""
_scripts: dict[int, Any] = {}


def drain_signal(client) -> bool:
    """One Redis round trip after an answer's commit (a Lua script, so atomic): ``SET NX`` the
    flag; if that fails, push a wake (``LPUSH``, ``LTRIM`` to one element, ``EXPIRE``). True if
    this call set the flag (no drain alive or queued: the caller publishes one). Otherwise the
    drain that holds the flag either waits on the wake list (the push wakes it, and its read
    after the pop sees this answer, committed before the push) or will read again anyway
    (``quality.services.drain``'s docstring has the whole argument)."""
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_SIGNAL_LUA)  # EVALSHA, reloaded after a restart
    return bool(script(keys=[drain_flag_key(), drain_wake_key()], args=[uuid.uuid4().hex, DRAIN_FLAG_TTL, DRAIN_WAKE_TTL]))


def drain_wake_wait(client, timeout: float) -> bool:
    """The drain's wait: ``BLPOP`` the wake list for up to ``timeout`` seconds. True if it popped
    a wake (an answer was committed since the last pop: read). The pop is the list's clear: it
    never holds more than one element."""
    return client.blpop([drain_wake_key()], timeout=timeout) is not None


def _score_signal(answer_id: int) -> None:
    """A new answer is committed: make sure a drain will see it (:func:`drain_signal`).
    Publishes the drain task only when this call set the flag; otherwise a drain is queued or
    running and, by its protocol (``quality.services.drain``: woken by the push, or it clears the
    flag *before* its final read), will read this answer, which committed before this call.
    Without a Redis broker (eager): the per-answer task, as before."""
    client = _flag_redis()
    if client is None:
        current_app.signature(SCORE_TASK, args=(answer_id,)).delay()
        return
    if drain_signal(client):
        try:
            # sent: the publish time, for the drain's trace (bench/latency.py --trace)
            current_app.signature(DRAIN_TASK, kwargs={"sent": time.time()}).delay()
        except BaseException:
            # nothing will drain: let the next submit publish (the sweep covers this answer)
            try:
                drain_flag_clear(client)
            except BROKER_ERRORS:
                pass
            raise


def task_enqueue(name: str, *args: Any, **kwargs: Any) -> None:
    """Send a Celery task by name (after commit when inside a transaction).

    ``signature(name).delay()`` resolves the registered task, so the embedded run without
    Redis executes it in-process (``task_always_eager``), and a real deployment sends it
    to the broker.

    Always the named task itself, one message per call: the sweep's and ops' re-sends of
    ``quality.score_answer`` go out as their own tasks, so a flag left by a killed drain can never
    hold them back. Newly submitted answers are coalesced instead
    (:func:`answer_scoring_enqueue`).

    A broker that cannot be reached (Redis down) is not the caller's failure: the data is
    committed already, so the error is logged and the send dropped; the periodic sweep
    (``quality.sweep_unscored``) enqueues what was never scored. How long a send may block
    first is bounded by ``CELERY_TASK_PUBLISH_RETRY_POLICY`` / ``CELERY_BROKER_CONNECTION_TIMEOUT``
    (and the flag's client by a 1 s connect timeout).
    """
    _send_after_commit(name, args, kwargs, coalesce=False)


def answer_scoring_enqueue(answer_id: int) -> None:
    """The submit paths' scoring signal for an answer they have just written (after commit; in
    autocommit, the one-statement submit, at once), coalesced: instead of one task per answer
    (Celery's handling alone cost ~2 ms of worker CPU per answer, and the task's own lookup as
    much again), the first answer of a burst publishes one ``quality.score_pending`` drain,
    guarded by a Redis flag (``SET NX``, short TTL), and the drain scores the burst in batches;
    the others push a wake in the same round trip, which a resident drain waits on
    (:func:`drain_signal`).
    Broker errors are handled as in :func:`task_enqueue`."""
    _send_after_commit(SCORE_TASK, (answer_id,), {}, coalesce=True)


def _send_after_commit(name: str, args: tuple, kwargs: dict, *, coalesce: bool) -> None:
    def send() -> None:
        try:
            if coalesce:
                _score_signal(args[0])
            else:
                current_app.signature(name, args=args, kwargs=kwargs).delay()
        except BROKER_ERRORS as exc:
            log.warning("could not enqueue %s%r%r (broker unavailable: %s); the sweep will retry it", name, args, kwargs, exc)

    transaction.on_commit(send)
