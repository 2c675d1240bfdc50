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


# --- the expert queue resolves with a typed value ----------------------------------------------

def staff_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=f"ops-{Item.objects.count()}-{DeliveryBatch.objects.count()}", is_staff=True)


def review_item():
    """A review-mode free-text item with one annotator's answer: waiting in the expert queue."""
    customer, p = customer_project("text", mode="review")
    item = Item.objects.filter(project=p, is_known=False).order_by("id").first()
    submit(p, annotator_working(p).annotator, item, "Paris,  France")
    item.refresh_from_db()
    return customer, p, item


def test_review_item_waits_for_the_expert_who_accepts_the_annotators_answer():
    from quality import selectors as quality_selectors
    from quality import services as quality_services

    _, p, item = review_item()
    assert item.status == "exhausted" and item.value == "Paris,  France"
    assert [row["item"].pk for row in quality_selectors.expert_queue(project=p)] == [item.pk]
    review, created = quality_services.item_expert_resolve(item_id=item.pk, expert=staff_user(), value=item.value)
    item.refresh_from_db()
    assert created and item.status == "accepted" and item.value == "Paris,  France" and item.label == "paris france"
    assert review.value == item.value and review.previous_value == item.value and review.method.startswith("expert kept")
    assert quality_selectors.expert_queue(project=p) == []


def test_review_item_corrected_by_the_expert_and_bad_values_write_nothing():
    from django.core.exceptions import ValidationError

    from quality import services as quality_services
    from quality.models import ExpertReview

    _, p, item = review_item()
    ops = staff_user()
    for bad in ("  !!! ", ["a list"], None, "x" * 2001):
        with pytest.raises(ValidationError) as exc:
            quality_services.item_expert_resolve(item_id=item.pk, expert=ops, value=bad)
        assert "value" in exc.value.message_dict
    item.refresh_from_db()
    assert item.status == "exhausted" and ExpertReview.objects.count() == 0
    review, _ = quality_services.item_expert_resolve(item_id=item.pk, expert=ops, value="Lyon")
    item.refresh_from_db()
    assert (item.label, item.value, item.status) == ("lyon", "Lyon", "accepted")
    assert review.previous_value == "Paris,  France" and review.method.startswith("expert answer")
    again, created = quality_services.item_expert_resolve(item_id=item.pk, expert=ops, value="LYON!")  # same label
    assert not created and again.pk == review.pk
    with pytest.raises(ValidationError):
        quality_services.item_expert_resolve(item_id=item.pk, expert=ops, value="Paris")


def exhausted_bbox_item():
    customer, p = customer_project("bbox", threshold=1.0)
    item = Item.objects.filter(project=p, is_known=False).order_by("id").first()
    for dx in (0.0, 0.3, 0.45, 0.55):  # four answers that never agree: exhausted at the cap (4)
        submit(p, annotator_working(p).annotator, item, [moved(SQUARE, dx)] if dx + SQUARE["x"] + SQUARE["w"] <= 1 else [])
    item.refresh_from_db()
    return customer, p, item


def test_exhausted_bbox_item_resolved_with_boxes():
    from quality import services as quality_services

    _, p, item = exhausted_bbox_item()
    assert item.status == "exhausted", (item.status, item.answers_count)
    boxes = [{"label": "circle", "x": 0.5, "y": 0.5, "w": 0.25, "h": 0.25}]
    review, _ = quality_services.item_expert_resolve(item_id=item.pk, expert=staff_user(), value=boxes)
    item.refresh_from_db()
    assert item.status == "accepted" and item.value == boxes and item.label.startswith("boxes:1:")
    assert review.value == boxes and review.label == item.label


def test_expert_page_resolves_a_typed_value_over_http(client):
    from quality.models import ExpertReview

    _, p, item = review_item()
    client.force_login(staff_user())
    page = client.get(f"/ops/projects/{p.pk}/expert/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-tw="text"' in html and "Annotator's answer" in html and "Paris,  France" in html
    url = f"/ops/projects/{p.pk}/expert/"
    bad = client.post(url, {"item": item.pk, f"value-{item.pk}": '"  ?! "'})
    assert bad.status_code == 400 and "value: Write an answer" in bad.content.decode()
    unreadable = client.post(url, {"item": item.pk, f"value-{item.pk}": "{not json"})
    assert unreadable.status_code == 400 and "could not be read" in unreadable.content.decode()
    assert ExpertReview.objects.count() == 0
    ok = client.post(url, {"item": item.pk, f"value-{item.pk}": '"Marseille"'})
    assert ok.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.value, item.label) == ("accepted", "Marseille", "marseille")


# --- image sizes and the COCO export -----------------------------------------------------------

def sized(i):
    return {"image": "/static/workforce/demo/shapes.svg", "id": i, "width": 400, "height": 300}


def test_bbox_item_sizes_are_checked_at_upload():
    """Sizes follow the shape rule (examples and items alike, so known items look like the rest) and are checked."""
    from django.core.exceptions import ValidationError

    customer, p, batch, items = coco_batch(size_all=True)
    before = Item.objects.filter(project=p).count()
    for bad in ({"width": 0, "height": 300}, {"width": "400", "height": 300}, {"width": 400.5, "height": 3},
                {"width": 400, "height": 100_001}):
        with pytest.raises(ValidationError) as exc:
            task_services.items_upload(project=p, rows=[{"external_id": "x", "data": {"image": "/a.png", "id": 1, **bad}}])
        assert "data.width and data.height" in str(exc.value)
    assert Item.objects.filter(project=p).count() == before
    task_services.items_upload(project=p, rows=[{"external_id": "x", "data": {"image": "/a.png", "id": 1, "width": 9, "height": 7}}])


def test_image_size_report_first_valid_report_wins():
    customer, p = customer_project("bbox", items=1)
    item = Item.objects.get(project=p, is_known=False)
    for bad in ("nonsense", '{"width": 0, "height": 5}', '{"width": 10}', '[1, 2]', '{"width": true, "height": 5}'):
        assert task_services.item_image_size_report(item_id=item.pk, raw=bad) is False
    assert task_services.item_image_size_report(item_id=item.pk, raw='{"width": 640, "height": 480}') is True
    assert task_services.item_image_size_report(item_id=item.pk, raw='{"width": 1, "height": 1}') is False
    item.refresh_from_db()
    assert (item.data["width"], item.data["height"], item.data["id"]) == (640, 480, 0)
    _, other = customer_project("multi_choice", items=1)  # not a box project: never touched
    text_item = Item.objects.get(project=other, is_known=False)
    assert task_services.item_image_size_report(item_id=text_item.pk, raw='{"width": 640, "height": 480}') is False


def coco_batch(*, size_all: bool):
    """A bbox batch of three accepted items: the first two with sizes given at upload."""
    s = spec("bbox")
    customer = customer_with_token()
    p = task_services.project_create(
        organization=customer.organization, name="coco", instructions="x", accuracy_target=0.8, task_type="bbox",
        labels=s["labels"], type_config=s["type_config"], max_answers=4,
        examples=[task_services.ExampleIn(**{**ex, "data": sized(100 + i)}) for i, ex in enumerate(s["examples"])],
    )
    rows = [{"external_id": f"i{i}", "data": sized(i)} for i in range(3)]
    task_services.items_upload(project=p, rows=rows)
    p = task_services.project_launch(project=p)
    items = list(Item.objects.filter(project=p, is_known=False).order_by("id"))
    if not size_all:  # as if the last item came without a size
        Item.objects.filter(pk=items[2].pk).update(data={"image": "/static/workforce/demo/shapes.svg", "id": 2})
    task_services.item_decision_apply(item=items[0], status="accepted", label="x", p_correct=0.93, answers_wanted=2,
                                      value=[{"label": "square", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
                                             {"label": "circle", "x": 0.55, "y": 0.5, "w": 0.25, "h": 0.5}])
    task_services.item_decision_apply(item=items[1], status="exhausted", label=None, p_correct=None, answers_wanted=4)
    task_services.item_decision_apply(item=items[2], status="accepted", label="y", p_correct=0.9, answers_wanted=2,
                                      value=[{"label": "circle", "x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0}])
    batch = task_services.batch_cut(project=p, kind=DeliveryBatch.Kind.REQUESTED)
    return customer, p, batch, items


def body_of(resp) -> bytes:
    return b"".join(resp.streaming_content)


def coco_schema_check(doc: dict) -> None:
    """The COCO object-detection layout (pycocotools is not installed: the fields it reads, checked)."""
    assert set(doc) >= {"info", "images", "annotations", "categories"}
    cats = {c["id"] for c in doc["categories"]}
    images = {im["id"]: im for im in doc["images"]}
    assert len(images) == len(doc["images"])
    assert all(isinstance(im["width"], int) and isinstance(im["height"], int) and im["file_name"] for im in images.values())
    ids = [a["id"] for a in doc["annotations"]]
    assert len(set(ids)) == len(ids) and all(isinstance(i, int) and i > 0 for i in ids)
    for a in doc["annotations"]:
        im = images[a["image_id"]]
        x, y, w, h = a["bbox"]
        assert a["category_id"] in cats and a["iscrowd"] == 0
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= im["width"] + 0.01 and y + h <= im["height"] + 0.01
        assert a["area"] == pytest.approx(w * h, abs=0.01)


def test_coco_export_in_pixels():
    customer, p, batch, items = coco_batch(size_all=True)
    r = customer.client.get(f"/api/projects/{p.pk}/deliveries/{batch.number}/export/?fmt=coco")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert r["Content-Disposition"].endswith('.coco.json"')
    import json

    doc = json.loads(body_of(r))
    coco_schema_check(doc)
    assert doc["categories"] == [{"id": 1, "name": "square", "supercategory": ""}, {"id": 2, "name": "circle", "supercategory": ""}]
    assert [im["cadre_external_id"] for im in doc["images"]] == ["i0", "i1", "i2"]  # the exhausted one: no boxes
    assert [im["id"] for im in doc["images"]] == [it.pk for it in items]
    first = [a for a in doc["annotations"] if a["image_id"] == items[0].pk]
    assert [a["bbox"] for a in first] == [[40.0, 60.0, 120.0, 120.0], [220.0, 150.0, 100.0, 150.0]]
    assert [a["category_id"] for a in first] == [1, 2] and first[0]["area"] == 14400.0
    assert not [a for a in doc["annotations"] if a["image_id"] == items[1].pk]
    assert [a["bbox"] for a in doc["annotations"] if a["image_id"] == items[2].pk] == [[0.0, 0.0, 400.0, 300.0]]
    assert all("score" not in a for a in doc["annotations"])  # not certified: P(correct) not known yet
    from tasks_app.models import DeliveryBatchItem

    DeliveryBatchItem.objects.filter(batch=batch, item=items[0]).update(p_correct=0.91)
    doc = json.loads(body_of(customer.client.get(f"/api/projects/{p.pk}/deliveries/{batch.number}/export/?fmt=coco")))
    assert [a.get("score") for a in doc["annotations"]] == [0.91, 0.91, None]


def test_coco_export_refused_when_sizes_are_missing_or_not_boxes():
    customer, p, batch, items = coco_batch(size_all=False)
    url = f"/api/projects/{p.pk}/deliveries/{batch.number}/export/?fmt=coco"
    r = customer.client.get(url)
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["items_without_size"] == 1 and body["examples"] == ["i2"] and "1 of the batch's 3 items" in body["detail"]
    task_services.item_image_size_report(item_id=items[2].pk, raw='{"width": 400, "height": 300}')
    assert customer.client.get(url).status_code == 200

    other, q = customer_project("multi_choice")
    b = task_services.batch_cut(project=q, kind=DeliveryBatch.Kind.REQUESTED, allow_empty=True)
    r = other.client.get(f"/api/projects/{q.pk}/deliveries/{b.number}/export/?fmt=coco")
    assert r.status_code == 400 and "bounding-box" in r.json()["fmt"][0]
