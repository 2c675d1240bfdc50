"""Webhooks against a real local HTTP receiver (signature, retries with backoff, give-up after
~24 h, the delivery log through the API, a real Celery worker), idempotency keys, and the
sample-size calculator."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from tasks_app import services
from tasks_app.services.webhooks import retry_wait
from tasks_app.models import Project, Webhook, WebhookDelivery
from tests.conftest import wait_for
from tests.factories import customer_with_token, make_project


class Receiver:
    """A real HTTP server on 127.0.0.1: records each request; answers ``codes`` in turn (then 200)."""

    def __init__(self, codes=()):
        self.requests: list[dict] = []
        self.codes = list(codes)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(codes=()):
        r = Receiver(codes)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def register(customer, url, events=("delivery.ready", "pilot.ready", "project.complete")):
    r = customer.client.post("/api/webhooks/", {"url": url, "events": list(events)}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


@pytest.mark.django_db
def test_signed_delivery_to_a_real_receiver(receiver, django_capture_on_commit_callbacks):
    rec = receiver()
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=2)
    hook = register(customer, rec.url)
    assert len(hook["secret"]) == 64
    assert "secret" not in customer.client.get(f"/api/webhooks/{hook['id']}/").json()
    with django_capture_on_commit_callbacks(execute=True):
        services.event_emit(project=project, event="delivery.ready", payload={"project": project.pk, "batch": 1})
    assert len(rec.requests) == 1
    req = rec.requests[0]
    h = {k.lower(): v for k, v in req["headers"].items()}
    assert h["cadre-event"] == "delivery.ready"
    assert services.signature_verify(hook["secret"], h["cadre-signature"], req["body"])
    assert not services.signature_verify("another-secret", h["cadre-signature"], req["body"])
    assert not services.signature_verify(hook["secret"], h["cadre-signature"], req["body"] + b" ")  # tampered body
    ts = int(h["cadre-signature"].split(",")[0][2:])
    assert not services.signature_verify(hook["secret"], h["cadre-signature"], req["body"], now=ts + 3600)  # replayed late
    body = json.loads(req["body"])
    assert body["event"] == "delivery.ready" and body["data"] == {"project": project.pk, "batch": 1}
    assert body["id"] == h["cadre-delivery"]
    log = customer.client.get(f"/api/webhooks/{hook['id']}/deliveries/").json()
    assert log["count"] == 1 and log["results"][0]["status"] == "succeeded" and log["results"][0]["attempts"] == 1


@pytest.mark.django_db
def test_retries_with_backoff_then_success_and_give_up(receiver, django_capture_on_commit_callbacks):
    rec = receiver(codes=[500, 503])
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=1)
    register(customer, rec.url)
    with django_capture_on_commit_callbacks(execute=True):
        (d,) = services.event_emit(project=project, event="project.complete", payload={"project": project.pk})
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, 500)
    first_wait = (d.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < first_wait <= 60
    assert services.delivery_attempt(delivery_id=d.pk) == "not due"  # too early: nothing sent
    assert len(rec.requests) == 1
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
    assert d.pk in services.deliveries_due()
    services.delivery_attempt(delivery_id=d.pk)
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 2, 503)
    assert 110 < (d.next_attempt_at - timezone.now()).total_seconds() <= 120  # doubled
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
    assert services.delivery_attempt(delivery_id=d.pk) == "succeeded"
    ids = {r["headers"].get("Cadre-Delivery") for r in rec.requests}
    assert len(rec.requests) == 3 and len(ids) == 1  # same event id on every retry
    assert services.delivery_attempt(delivery_id=d.pk) == "already succeeded"

    # A receiver that never answers 2xx: after ~24 h the delivery is marked failed.
    dead = receiver(codes=[500] * 50)
    hook2 = services.webhook_create(organization=customer.organization, url=dead.url, events=["project.complete"])
    with django_capture_on_commit_callbacks(execute=True):
        ds = services.event_emit(project=project, event="project.complete", payload={})
    d2 = next(x for x in ds if x.webhook_id == hook2.pk)
    WebhookDelivery.objects.filter(pk=d2.pk).update(created_at=timezone.now() - timedelta(hours=23, minutes=59),
                                                    next_attempt_at=timezone.now())
    assert services.delivery_attempt(delivery_id=d2.pk) == "failed"
    waits = [retry_wait(k) for k in range(1, 20)]
    assert waits[:3] == [60, 120, 240] and max(waits) == 6 * 3600
    # attempts that fit in 24 h with this schedule: about a dozen
    total, n = 0, 0
    while total + retry_wait(n + 1) <= 24 * 3600:
        n += 1
        total += retry_wait(n)
    assert 10 <= n <= 14


@pytest.mark.django_db
def test_unreachable_url_is_retried_not_raised(django_capture_on_commit_callbacks):
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=1)
    services.webhook_create(organization=customer.organization, url="http://127.0.0.1:9/nothing", events=["pilot.ready"])
    with django_capture_on_commit_callbacks(execute=True):
        (d,) = services.event_emit(project=project, event="pilot.ready", payload={})
    d.refresh_from_db()
    assert d.status == "pending" and d.last_status_code is None and "Connection" in d.last_error


@pytest.mark.django_db
def test_webhook_api_errors_and_isolation():
    customer = customer_with_token()
    c = customer.client
    assert c.post("/api/webhooks/", {"url": "not a url", "events": ["delivery.ready"]}, format="json").status_code == 400
    r = c.post("/api/webhooks/", {"url": "http://example.org/x", "events": ["nope"]}, format="json")
    assert r.status_code == 400 and "events" in r.json()
    other = make_project(customer_with_token().organization, n_items=1)
    r = c.post("/api/webhooks/", {"url": "http://example.org/x", "events": ["delivery.ready"], "project": other.pk}, format="json")
    assert r.status_code == 400 and "project" in r.json()
    hook = register(customer, "http://example.org/hook")
    intruder = customer_with_token().client
    assert intruder.get(f"/api/webhooks/{hook['id']}/").status_code == 404
    assert intruder.get(f"/api/webhooks/{hook['id']}/deliveries/").status_code == 404
    assert intruder.get("/api/webhooks/").json()["count"] == 0
    assert c.delete(f"/api/webhooks/{hook['id']}/").status_code == 204
    assert not Webhook.objects.get(pk=hook["id"]).active
    assert c.get(f"/api/webhooks/{hook['id']}/deliveries/").status_code == 200  # the log stays readable
    assert c.get(f"/api/webhooks/{hook['id']}/deliveries/?status=bogus").status_code == 400


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_pilot_ready_webhook_through_a_real_worker(receiver, celery_worker):
    """Pilot done → the periodic step cuts the pilot batch → the worker certifies it and sends
    ``pilot.ready`` to the customer's receiver, signed."""
    from tests.deliveries.helpers import team_of, work

    rec = receiver()
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=6, launch=False)
    hook = register(customer, rec.url, events=["pilot.ready"])
    project = services.project_pilot_start(project=project, size=2)
    team = team_of(project)

    def step():  # answers are scored by the worker, so an item may need another round
        work(project, team)
        wait_for(lambda: not project.answers.filter(scored_at__isnull=True).exists(), timeout=60, message="scoring")
        return services.project_phase_advance(project_id=project.pk) == "pilot ready"

    wait_for(step, timeout=120, interval=0.5, message="the pilot to finish")
    wait_for(lambda: rec.requests, timeout=60, message="the pilot.ready webhook")
    req = rec.requests[0]
    assert services.signature_verify(hook["secret"], req["headers"]["Cadre-Signature"], req["body"])
    body = json.loads(req["body"])
    assert body["event"] == "pilot.ready" and body["data"]["items"] == 2
    assert "interval_lower" in body["data"]["certificate"]
    assert "tasks_app.webhook_deliver" in celery_worker["log"].read_text()


@pytest.mark.django_db
def test_idempotency_key_replays_and_refuses_other_bodies():
    from tests.security.test_role_matrix import project_spec

    customer = customer_with_token()
    c = customer.client
    spec = project_spec(None, "idem")
    r1 = c.post("/api/projects/", spec, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    r2 = c.post("/api/projects/", spec, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json() and r2["Idempotent-Replayed"] == "true"
    assert Project.objects.filter(organization=customer.organization).count() == 1
    other = dict(spec, name="something else")
    r3 = c.post("/api/projects/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert r3.status_code == 422 and "different request" in r3.json()["detail"]
    # a failed request releases its key: fix the body, same key, it works
    bad = dict(spec, labels=["only-one"])
    assert c.post("/api/projects/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 400
    assert c.post("/api/projects/", dict(spec, name="fixed"), format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201
    # keys are per user
    other_customer = customer_with_token()
    assert other_customer.client.post("/api/projects/", spec, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    assert c.post("/api/projects/", spec, format="json", HTTP_IDEMPOTENCY_KEY="x" * 300).status_code == 400
    # without a key, two POSTs make two projects
    c.post("/api/projects/", spec, format="json")
    c.post("/api/projects/", spec, format="json")
    assert Project.objects.filter(organization=customer.organization).count() == 4
    # items upload and webhooks too
    p = Project.objects.filter(organization=customer.organization).first()
    items = {"items": [{"external_id": "a", "data": {"text": "x"}}]}
    u1 = c.post(f"/api/projects/{p.pk}/items/", items, format="json", HTTP_IDEMPOTENCY_KEY="up-1")
    u2 = c.post(f"/api/projects/{p.pk}/items/", items, format="json", HTTP_IDEMPOTENCY_KEY="up-1")
    assert u1.status_code == u2.status_code == 201 and u2.json() == {"created": 1, "existing": 0}
    h = {"url": "http://example.org/h", "events": ["delivery.ready"]}
    w1 = c.post("/api/webhooks/", h, format="json", HTTP_IDEMPOTENCY_KEY="wh")
    w2 = c.post("/api/webhooks/", h, format="json", HTTP_IDEMPOTENCY_KEY="wh")
    assert w1.json() == w2.json() and Webhook.objects.filter(organization=customer.organization).count() == 1


@pytest.mark.django_db
def test_idempotency_key_in_progress_is_409():
    from tasks_app.models import IdempotencyKey

    customer = customer_with_token()
    spec = {"url": "http://example.org/h", "events": ["delivery.ready"]}
    from tasks_app.services import fingerprint

    IdempotencyKey.objects.create(user=customer.user, key="busy",
                                  fingerprint=fingerprint("POST", "/api/webhooks/", json.dumps(spec).encode()))
    r = customer.client.post("/api/webhooks/", json.dumps(spec), content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy")
    assert r.status_code == 409
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_sample_size_endpoint():
    c = customer_with_token().client
    r = c.get("/api/sample-size/?margin=0.02&confidence=0.95&expected_accuracy=0.95")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["n_wald"] == 457 and body["n"] >= 400 and body["population"] is None
    r = c.get("/api/sample-size/?margin=0.02&confidence=0.95&expected_accuracy=0.95&population=1000")
    assert r.json()["n"] < body["n"]
    bad = c.get("/api/sample-size/?margin=2&expected_accuracy=0.95")
    assert bad.status_code == 400 and "margin" in bad.json()
    assert c.get("/api/sample-size/").status_code == 400


@pytest.mark.django_db
def test_private_addresses_are_refused_when_not_allowed(receiver, settings, django_capture_on_commit_callbacks):
    """In production (CADRE_WEBHOOK_ALLOW_PRIVATE off) a URL resolving to loopback is never called."""
    settings.CADRE_WEBHOOK_ALLOW_PRIVATE = False
    rec = receiver()
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=1)
    services.webhook_create(organization=customer.organization, url=rec.url, events=["delivery.ready"])
    with django_capture_on_commit_callbacks(execute=True):
        (d,) = services.event_emit(project=project, event="delivery.ready", payload={})
    d.refresh_from_db()
    assert rec.requests == []
    assert d.status == "pending" and "non-public address" in d.last_error
    from tasks_app.services.webhooks import private_target

    assert private_target("http://169.254.169.254/latest/meta-data") is not None
    assert private_target("http://10.0.0.5/x") is not None
    settings.CADRE_WEBHOOK_ALLOW_PRIVATE = True
    assert private_target(rec.url) is None


@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_receiver_answers(monkeypatch):
    """A slow receiver (up to CADRE_WEBHOOK_TIMEOUT) must not hold the delivery row locked: the
    attempt claims the row, commits, then calls. Meanwhile another attempt sends nothing."""
    from django.db import connection, transaction

    from tasks_app.services import webhooks as webhooks_module

    monkeypatch.setattr(webhooks_module, "task_enqueue", lambda *a, **k: None)  # attempts run by hand here
    arrived, release, seen = threading.Event(), threading.Event(), []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            arrived.set()
            release.wait(10)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        customer = customer_with_token()
        project = make_project(customer.organization, n_items=1)
        register(customer, f"http://127.0.0.1:{server.server_address[1]}/hook")
        [d] = services.event_emit(project=project, event="delivery.ready", payload={"batch": 1})
        result = {}

        def attempt():
            try:
                result["status"] = services.delivery_attempt(delivery_id=d.pk)
            finally:
                connection.close()

        t = threading.Thread(target=attempt)
        t.start()
        assert arrived.wait(10)
        with transaction.atomic():  # free while the receiver holds the call: NOWAIT does not raise
            WebhookDelivery.objects.select_for_update(nowait=True).get(pk=d.pk)
        assert services.delivery_attempt(delivery_id=d.pk) == "not due"  # claimed: not sent twice
        release.set()
        t.join(15)
        d.refresh_from_db()
        assert result["status"] == "succeeded" and d.status == "succeeded" and d.attempts == 1 and len(seen) == 1
    finally:
        release.set()
        server.shutdown()
        server.server_close()
