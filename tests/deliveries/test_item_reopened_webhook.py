"""A delivered label that goes back to work is announced (review leftover: the sent
``delivery.ready`` stayed the customer's last word): an audit reopens a delivered item and the
customer's real HTTP receiver gets a signed ``item.reopened`` event naming it, its batch and the
label delivered; items never delivered are not announced."""
from __future__ import annotations

import json

import pytest

from quality.models import AuditSample
from tasks_app import services
from tasks_app.models import Item, WebhookDelivery
from tests.deliveries.test_exports_audits import delivered  # noqa: F401 (fixture)
from tests.deliveries.test_webhooks_idempotency import Receiver, register
from tests.factories import PASSWORD, true_label

pytestmark = pytest.mark.django_db


@pytest.fixture
def rec():
    r = Receiver()
    yield r
    r.close()


def test_an_audit_reopening_a_delivered_item_sends_item_reopened(delivered, rec, django_capture_on_commit_callbacks):  # noqa: F811
    from django.test import Client

    customer, project, batch = delivered
    hook = register(customer, rec.url, events=["item.reopened"])
    url = f"/api/projects/{project.pk}/deliveries/{batch.number}/audit/"
    audit = customer.client.post(url, {"margin": 0.1, "min_per_class": 3}, format="json").json()
    reviewer = customer.user
    reviewer.set_password(PASSWORD)
    reviewer.save()
    web = Client()
    assert web.login(username=reviewer.username, password=PASSWORD)
    review_path = audit["review_url"].replace("http://testserver", "")
    samples = list(AuditSample.objects.filter(audit_id=audit["id"]).select_related("item"))
    wrong = samples[0].item
    delivered_label = wrong.label
    for s in samples:  # the truth, except on one item the reviewer calls wrong
        label = true_label(s.item.external_id)
        if s.item_id == wrong.pk:
            label = next(lab for lab in project.labels if lab != label)
        assert web.post(review_path, {"sample": s.pk, "label": label}).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert web.post(f"/review/audits/{audit['id']}/complete/").status_code == 302
    wrong.refresh_from_db()
    assert wrong.status == "open" and wrong.delivered_at is None

    assert len(rec.requests) == 1
    req = rec.requests[0]
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["cadre-event"] == "item.reopened"
    assert services.signature_verify(hook["secret"], headers["cadre-signature"], req["body"])
    body = json.loads(req["body"])
    assert body["event"] == "item.reopened"
    assert body["data"] == {"project": project.pk, "reason": "audit", "items": [
        {"id": wrong.pk, "external_id": wrong.external_id, "batch": batch.number, "delivered_label": delivered_label}]}
    log = customer.client.get(f"/api/webhooks/{hook['id']}/deliveries/?event=item.reopened").json()
    assert log["count"] == 1 and log["results"][0]["status"] == "succeeded"

    # an item decided but not delivered yet goes back without an event (the customer never saw it)
    other = Item.objects.filter(project=project, is_known=False, status="accepted").exclude(pk=wrong.pk).first()
    Item.objects.filter(pk=other.pk).update(delivered_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.items_reopen(item_ids=[other.pk], reason="re-estimate") == 1
    assert len(rec.requests) == 1 and WebhookDelivery.objects.filter(event="item.reopened").count() == 1
    with pytest.raises(ValueError):
        services.items_reopen(item_ids=[other.pk], reason="because")


def test_a_re_estimate_reopening_delivered_items_lists_them_all(delivered, rec, django_capture_on_commit_callbacks):  # noqa: F811
    """The quality engine's re-estimate (quality.services.model._reopen_unsettled) goes through the same
    items_reopen: every delivered item it reopens is in one event, with its reason."""
    customer, project, batch = delivered
    register(customer, rec.url, events=["item.reopened", "delivery.ready"])
    items = list(Item.objects.filter(project=project, is_known=False).order_by("id")[:3])
    with django_capture_on_commit_callbacks(execute=True):
        assert services.items_reopen(item_ids=[i.pk for i in items], reason="re-estimate") == 3
    (req,) = rec.requests
    data = json.loads(req["body"])["data"]
    assert data["reason"] == "re-estimate"
    assert [(x["external_id"], x["batch"], x["delivered_label"]) for x in data["items"]] == [
        (i.external_id, batch.number, i.label) for i in items]
