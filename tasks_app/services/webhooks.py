"""Webhooks: customer-registered URLs, signed event deliveries, retries with backoff.

Each event becomes one ``WebhookDelivery`` row per matching webhook (the delivery log) and is
sent by the Celery task ``tasks_app.webhook_deliver`` after commit. The request is a JSON POST:

    Cadre-Event: delivery.ready
    Cadre-Delivery: <event id, a UUID; the same on every retry: deduplicate on it>
    Cadre-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

Verify by recomputing the HMAC over the timestamp, a dot and the raw body with the secret
given at registration, comparing in constant time, and refusing timestamps older than a few
minutes (replays). A 2xx answer is success; anything else (or no answer within
``CADRE_WEBHOOK_TIMEOUT`` seconds) is retried after 1, 2, 4, ... minutes, each wait at most
6 hours, until ``CADRE_WEBHOOK_RETRY_HOURS`` (24) after the event; then the delivery is
marked failed. Retries are driven by the database (``next_attempt_at`` + the periodic task
``tasks_app.webhooks_retry``), not by long Celery countdowns, which Redis would redeliver
after its visibility timeout.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from urllib.parse import urlsplit
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Organization, Project, Webhook, WebhookDelivery
from .enqueue import task_enqueue

log = logging.getLogger(__name__)

DELIVER_TASK = "tasks_app.webhook_deliver"
FIRST_RETRY_SECONDS = 60
MAX_RETRY_WAIT_SECONDS = 6 * 3600


def retry_hours() -> float:
    return float(getattr(settings, "CADRE_WEBHOOK_RETRY_HOURS", 24))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (used by the tests' receiver): parse ``t=...,v1=...``, check the
    age, compare in constant time."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), parts.get("v1", ""))


def private_target(url: str) -> str | None:
    """Why ``url`` must not be called, or None: a host that resolves to a loopback, private,
    link-local or otherwise non-public address (a customer's URL must not reach Cadre's own
    network: cloud metadata, Redis, the database). Checked at every attempt, after DNS, so a name
    re-pointed later is caught too. ``CADRE_WEBHOOK_ALLOW_PRIVATE`` turns it off (development, tests)."""
    if getattr(settings, "CADRE_WEBHOOK_ALLOW_PRIVATE", False):
        return None
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        return f"cannot resolve {host!r}: {exc}"
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not addr.is_global:
            return f"{host!r} resolves to a non-public address ({addr}); refused"
    return None


def retry_wait(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: 60 · 2^(attempts-1), at most 6 h."""
    return min(MAX_RETRY_WAIT_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))


def webhook_create(
    *, organization: Organization, url: str, events: list[str], project: Project | None = None
) -> Webhook:
    errors: dict[str, list[str]] = {}
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["url"] = ["Give an http(s) URL."]
    if not events:
        errors["events"] = ["Give at least one event."]
    bad = [e for e in events if e not in Webhook.Event.values]
    if bad:
        errors["events"] = [f"Unknown event(s): {', '.join(bad)}. One of: {', '.join(Webhook.Event.values)}."]
    if project is not None and project.organization_id != organization.pk:
        errors["project"] = ["No such project."]
    if errors:
        raise ValidationError(errors)
    return Webhook.objects.create(
        organization=organization, project=project, url=url, events=sorted(set(events)), secret=secrets.token_hex(32)
    )


def webhook_deactivate(*, webhook: Webhook) -> Webhook:
    """Stop sending to this URL; pending deliveries are marked failed. The log stays readable."""
    with transaction.atomic():
        webhook.active = False
        webhook.save(update_fields=["active"])
        webhook.deliveries.filter(status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.FAILED, last_error="The webhook was deleted.", next_attempt_at=None
        )
    return webhook


def event_emit(*, project: Project, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Record the event for every active webhook of the project's organization that wants it
    (all projects, or this one) and send each after commit."""
    if event not in Webhook.Event.values:
        raise ValueError(f"unknown event {event!r}")
    hooks = Webhook.objects.filter(organization_id=project.organization_id, active=True).filter(
        Q(project__isnull=True) | Q(project=project)
    )
    out = []
    now = timezone.now()
    with transaction.atomic():
        for hook in hooks:
            if event not in hook.events:
                continue
            event_id = uuid.uuid4()
            body = {"id": str(event_id), "event": event, "created_at": now.isoformat(), "data": payload}
            d = WebhookDelivery.objects.create(
                webhook=hook, event=event, event_id=event_id, payload=json.loads(json.dumps(body, cls=DjangoJSONEncoder)),
                next_attempt_at=now,
            )
            task_enqueue(DELIVER_TASK, d.pk)
            out.append(d)
    return out


def delivery_attempt(*, delivery_id: int) -> str:
    """Send one due delivery once; record the outcome and when to try again.

    Two short transactions around the HTTP call, so no row lock is held while a slow receiver
    answers (up to ``CADRE_WEBHOOK_TIMEOUT``):

    1. claim: lock the row (``SKIP LOCKED``: a second worker given the same id returns at once),
       skip it when finished or not due, count the attempt and push ``next_attempt_at`` past the
       call's timeout. A second worker now finds it "not due"; a worker that dies mid-call leaves
       it pending, due again once the claim runs out.
    2. send the signed body, outside any transaction;
    3. record: the outcome, and the next due time of the backoff (or failed after the retry window).
    """
    timeout = float(getattr(settings, "CADRE_WEBHOOK_TIMEOUT", 10))
    with transaction.atomic():
        d = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(pk=delivery_id)
            .first()
        )
        if d is None:
            return "locked or gone"
        now = timezone.now()
        if d.status != WebhookDelivery.Status.PENDING:
            return f"already {d.status}"
        if d.next_attempt_at and d.next_attempt_at > now:
            return "not due"
        d.attempts += 1
        d.next_attempt_at = now + timedelta(seconds=timeout + 30)  # the claim
        d.save(update_fields=["attempts", "next_attempt_at"])
    body = json.dumps(d.payload, separators=(",", ":"), sort_keys=True).encode()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Cadre-Webhooks/1",
        "Cadre-Event": d.event,
        "Cadre-Delivery": str(d.event_id),
        "Cadre-Signature": f"t={ts},v1={signature(d.webhook.secret, ts, body)}",
    }
    code, error = None, ""
    refused = private_target(d.webhook.url)
    try:
        if refused:
            raise requests.ConnectionError(refused)
        resp = requests.post(d.webhook.url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        code = resp.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}: {resp.text[:200]}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    fields = {"last_status_code": code, "last_error": error}
    if not error:
        fields.update(status=WebhookDelivery.Status.SUCCEEDED, delivered_at=timezone.now(), next_attempt_at=None)
    else:
        nxt = timezone.now() + timedelta(seconds=retry_wait(d.attempts))
        if nxt > d.created_at + timedelta(hours=retry_hours()):
            fields.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        else:
            fields.update(next_attempt_at=nxt)
    # only the claim this call made: a row someone finished meanwhile is left as it is
    WebhookDelivery.objects.filter(pk=d.pk, status=WebhookDelivery.Status.PENDING, attempts=d.attempts).update(**fields)
    return fields.get("status", WebhookDelivery.Status.PENDING)


def deliveries_due(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due (the periodic retry enqueues these)."""
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
