"""``Idempotency-Key`` for POSTs that create something.

The first request with a key stores the request's fingerprint (sha256 of method, path and
body) and, when it succeeds (2xx), its response. The same key again:

* same fingerprint, response stored → the stored response is replayed (nothing is created twice);
* same fingerprint, first request still running → 409 (try again shortly);
* different fingerprint → 422 (a key names one request; reusing it for another is a client bug).

A request that ends in an error (4xx/5xx) releases its key, so the client can fix the body and
retry with the same key. Keys are per user and kept ``CADRE_IDEMPOTENCY_HOURS`` (24) hours
(``idempotency_keys_purge``, periodic).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import IdempotencyKey

MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, body: bytes) -> str:
    h = hashlib.sha256()
    h.update(method.upper().encode())
    h.update(b"\0")
    h.update(path.encode())
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()


@dataclass(frozen=True)
class KeyState:
    outcome: str  # "new" | "replay" | "in_progress" | "mismatch"
    record: IdempotencyKey | None = None


def idempotency_begin(*, user, key: str, fp: str) -> KeyState:
    """Claim ``key`` for this request, or say why not (see the module docstring)."""
    cutoff = timezone.now() - timedelta(hours=float(getattr(settings, "CADRE_IDEMPOTENCY_HOURS", 24)))
    IdempotencyKey.objects.filter(user=user, key=key, created_at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            rec = IdempotencyKey.objects.create(user=user, key=key, fingerprint=fp)
        return KeyState("new", rec)
    except IntegrityError:
        rec = IdempotencyKey.objects.filter(user=user, key=key).first()
        if rec is None:  # released meanwhile: claim again
            return idempotency_begin(user=user, key=key, fp=fp)
    if rec.fingerprint != fp:
        return KeyState("mismatch", rec)
    if rec.response_status is None:
        return KeyState("in_progress", rec)
    return KeyState("replay", rec)


def idempotency_finish(*, record: IdempotencyKey, status: int, body: Any) -> None:
    """Store a 2xx response for replay; release the key on anything else."""
    if 200 <= status < 300:
        record.response_status = status
        record.response_body = body
        record.save(update_fields=["response_status", "response_body"])
    else:
        IdempotencyKey.objects.filter(pk=record.pk).delete()


def idempotency_keys_purge() -> int:
    cutoff = timezone.now() - timedelta(hours=float(getattr(settings, "CADRE_IDEMPOTENCY_HOURS", 24)))
    return IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()[0]
