"""Structured values end to end (issue 6, remaining gaps): ``/delivery/`` and a batch's items carry
``value`` as the exports do; boxes export as COCO; the expert queue resolves with a typed value."""
from __future__ import annotations

import pytest

from tasks_app import services as task_services
from tasks_app.models import DeliveryBatch, Item
from tests.factories import annotator_working, customer_with_token

from .specs import SQUARE, spec
from .test_scoring_types import moved, submit

pytestmark = pytest.mark.django_db


def customer_project(task_type: str, *, items: int = 2, item_data=None, **extra):
    """A launched project of ``task_type`` owned by a new customer (with an API client)."""
    customer = customer_with_token()
    s = spec(task_type)
    p = task_services.project_create(
        organization=customer.organization, name=task_type, instructions="x", accuracy_target=0.8, task_type=task_type,
        labels=s["labels"], type_config={**s["type_config"], **extra}, max_answers=4,
        examples=[task_services.ExampleIn(**ex) for ex in s["examples"]],
    )
    data = item_data or s["item_data"]
    task_services.items_upload(project=p, rows=[{"external_id": f"i{i}", "data": data(i)} for i in range(items)])
    return customer, task_services.project_launch(project=p)


def accept_boxes(p, item, boxes_list):
    users = [annotator_working(p, qualifier=(10, 10)).annotator for _ in boxes_list]
    for u, v in zip(users, boxes_list):
        submit(p, u, item, v)
    item.refresh_from_db()
    return item


def test_delivery_and_batch_items_carry_the_value():
    customer, p = customer_project("bbox")
    item = accept_boxes(p, Item.objects.filter(project=p, is_known=False).order_by("id").first(), [[SQUARE], [moved(SQUARE, 0.02)]])
    assert item.status == "accepted" and item.value
    r = customer.client.get(f"/api/projects/{p.pk}/delivery/")
    assert r.status_code == 200, r.content
    row = next(it for it in r.json()["items"] if it["external_id"] == item.external_id)
    assert row["value"] == item.value and row["label"] == item.label

    batch = task_services.batch_cut(project=p, kind=DeliveryBatch.Kind.REQUESTED)
    r = customer.client.get(f"/api/projects/{p.pk}/deliveries/{batch.number}/items/")
    assert r.status_code == 200, r.content
    rows = r.json()["results"] if isinstance(r.json(), dict) else r.json()
    assert rows[0]["external_id"] == item.external_id and rows[0]["value"] == item.value


def test_single_choice_delivery_value_is_null():
    from tests.factories import make_project

    customer = customer_with_token()
    p = make_project(customer.organization, n_items=2)
    item = Item.objects.filter(project=p, is_known=False).first()
    task_services.item_decision_apply(item=item, status="accepted", label="positive", p_correct=0.95, answers_wanted=1)
    r = customer.client.get(f"/api/projects/{p.pk}/delivery/")
    assert r.status_code == 200
    assert [(it["label"], it["value"]) for it in r.json()["items"]] == [("positive", None)]
