"""Structured task types through the real scoring path (issue 6): answer_submit validates and
stores the value, quality's answer_score grades checks by similarity (so the gate sees right /
wrong as for single choice) and decides items by agreement with a consensus value."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from quality import services as quality_services
from quality.engine import similarity
from quality.models import AnnotatorQuality
from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Lease, Organization
from tests.factories import annotator, annotator_working

from .specs import CIRCLE, SQUARE, spec

pytestmark = pytest.mark.django_db


def project_of(task_type: str, **extra):
    s = spec(task_type)
    org = Organization.objects.create(name=f"org {uuid.uuid4().hex[:6]}")
    p = task_services.project_create(
        organization=org, name=task_type, instructions="x", accuracy_target=0.8, task_type=task_type,
        labels=s["labels"], type_config={**s["type_config"], **extra}, max_answers=4,
        examples=[task_services.ExampleIn(**ex) for ex in s["examples"]],
    )
    task_services.items_upload(project=p, rows=[{"external_id": f"i{i}", "data": s["item_data"](i)} for i in range(2)])
    return task_services.project_launch(project=p)


def submit(project, user, item, value, label=""):
    lease = Lease.objects.create(item=item, project=project, annotator=user, expires_at=timezone.now() + timedelta(minutes=5))
    a, _ = task_services.answer_submit(annotator=user, lease_id=lease.pk, label=label, value=value, client_key=uuid.uuid4().hex)
    quality_services.answer_score(answer_id=a.pk)
    a.refresh_from_db()
    return a


def moved(box, dx):
    return {**box, "x": round(box["x"] + dx, 4)}


def test_bbox_check_is_graded_by_iou_matching_and_moves_the_posterior():
    p = project_of("bbox")
    known = next(i for i in Item.objects.filter(project=p, is_known=True) if i.known_value == [CIRCLE])
    near, far = annotator_working(p).annotator, annotator_working(p).annotator
    right = submit(p, near, known, [moved(CIRCLE, 0.01)])
    wrong = submit(p, far, known, [moved(SQUARE, 0.25)])
    assert right.correct is True and wrong.correct is False
    assert AnnotatorQuality.objects.get(project=p, annotator=near).checks_correct == 1
    assert AnnotatorQuality.objects.get(project=p, annotator=far).checks_correct == 0


def test_bbox_item_accepted_on_agreement_with_box_wise_mean():
    p = project_of("bbox")
    item = Item.objects.filter(project=p, is_known=False).first()
    users = [annotator_working(p, qualifier=(10, 10)).annotator for _ in range(3)]
    submit(p, users[0], item, [SQUARE])
    item.refresh_from_db()
    assert item.status == "open" and item.answers_wanted == 2
    submit(p, users[1], item, [moved(SQUARE, 0.02)])
    item.refresh_from_db()
    assert item.status == "accepted", item.p_correct
    assert item.value == [{**SQUARE, "x": pytest.approx(0.11)}] and item.label.startswith("boxes:1:")
    assert item.p_correct >= 0.8


def test_multi_choice_disagreement_asks_for_more_then_exhausts_at_the_cap():
    p = project_of("multi_choice", threshold=1.0)
    item = Item.objects.filter(project=p, is_known=False).first()
    for i, v in enumerate([["red"], ["green"], ["blue"], ["red", "green", "blue"]]):
        submit(p, annotator_working(p).annotator, item, v)
        item.refresh_from_db()
        assert item.status == ("exhausted" if i == 3 else "open")


def test_text_keywords_check_and_bad_answers_refused():
    p = project_of("text")
    known = next(i for i in Item.objects.filter(project=p, is_known=True) if i.known_value == ["madrid", "spain"])
    a = submit(p, annotator_working(p).annotator, known, "It's MADRID (capital).")
    assert a.correct is True and a.label == "it s madrid capital"
    user = annotator_working(p).annotator
    lease = Lease.objects.create(item=known, project=p, annotator=user, expires_at=timezone.now() + timedelta(minutes=5))
    with pytest.raises(ValidationError) as exc:
        task_services.answer_submit(annotator=user, lease_id=lease.pk, label="", value="?!", client_key="k1")
    assert "value" in exc.value.message_dict
    assert not Answer.objects.filter(annotator=user).exists()


def test_subjective_rating_is_not_graded_and_delivers_the_distribution():
    """A customer's reference item stays ungraded in a subjective project (no right answer); hidden
    repeats are graded against the annotator's own first answer (next test, tests/quality/test_subjective.py)."""
    p = project_of("rating")
    known = Item.objects.filter(project=p, is_known=True).first()
    a = submit(p, annotator_working(p).annotator, known, 5)
    assert a.correct is None and a.scored_at is not None
    item = Item.objects.filter(project=p, is_known=False).first()
    for v in (5, 4, 2):
        submit(p, annotator_working(p).annotator, item, v)
    item.refresh_from_db()
    assert item.status == "accepted" and item.label == "4"
    assert item.value == {"answers": 3, "counts": {"2": 1, "4": 1, "5": 1}, "centre": 4}


def test_subjective_repeat_is_graded_against_the_annotators_own_first_answer():
    from tasks_app.services.repeats import _clone_of

    p = project_of("rating", tolerance=1)
    first, second = Item.objects.filter(project=p, is_known=False).order_by("id")
    steady, fickle = annotator_working(p).annotator, annotator_working(p).annotator
    for user, again in ((steady, 4), (fickle, 2)):
        submit(p, user, first, 5)
        submit(p, user, second, 1)
        a = submit(p, user, _clone_of(first.pk), again)
        assert a.is_check and a.correct is (user is steady)  # 4 is within tolerance 1 of 5; 2 is not
    first.refresh_from_db()
    assert first.status == "open" and first.answers_count == 2  # the repeats are not answers of the item


def test_rating_out_of_scale_refused():
    p = project_of("rating")
    item = Item.objects.filter(project=p, is_known=False).first()
    user = annotator()
    annotator_working(p, user)
    lease = Lease.objects.create(item=item, project=p, annotator=user, expires_at=timezone.now() + timedelta(minutes=5))
    with pytest.raises(ValidationError):
        task_services.answer_submit(annotator=user, lease_id=lease.pk, label="", value=6, client_key="k2")


# --- the pure functions ----------------------------------------------------------------------------

def test_box_matching_is_one_to_one_and_class_aware():
    a = [SQUARE, moved(SQUARE, 0.05)]
    b = [moved(SQUARE, 0.04)]
    pairs = similarity.box_matches(a, b, 0.5)
    assert len(pairs) == 1 and pairs[0][:2] == (1, 0)  # the closer one, once
    assert similarity.box_f1(a, b, 0.5) == pytest.approx(2 / 3)
    assert similarity.box_matches([SQUARE], [{**SQUARE, "label": "circle"}], 0.1) == []
    assert similarity.box_f1([], [], 0.5) == 1.0
    assert similarity.iou(SQUARE, SQUARE) == pytest.approx(1.0)


def test_jaccard_keywords_and_consensus():
    assert similarity.jaccard(["a", "b"], ["b", "c"]) == pytest.approx(1 / 3)
    assert similarity.jaccard([], []) == 1.0
    assert similarity.keyword_share("the new york times", ["new york", "ork"]) == 0.5
    assert similarity.consensus("multi_choice", {}, [["a", "b"], ["a"], ["a", "b", "c"]]) == ["a", "b"]
    assert similarity.consensus("rating", {}, [1, 5, 4]) == 4


def test_agreement_decision_needs_two_agreeing_and_the_target():
    same = lambda x, y: x == y  # noqa: E731
    assert similarity.decide_agreement([1], [0.9], same, target=0.8, cap=3).status == "more"
    d = similarity.decide_agreement([1, 1], [0.9, 0.9], same, target=0.8, cap=3)
    assert d.status == "accepted" and d.members == (0, 1)
    assert similarity.decide_agreement([1, 2, 3], [0.6] * 3, same, target=0.8, cap=3).status == "exhausted"


@pytest.mark.parametrize("task_type", ["bbox", "rating"])
def test_structured_batch_is_cut_certified_and_exported_with_values(task_type):
    from quality.services.audits import batch_certify
    from tasks_app.models import DeliveryBatch

    p = project_of(task_type)
    values = {"bbox": [[SQUARE], [moved(SQUARE, 0.01)], [moved(SQUARE, 0.02)]], "rating": [4, 4, 5]}[task_type]
    users = [annotator_working(p, qualifier=(10, 10)).annotator for _ in range(3)]
    for known in Item.objects.filter(project=p, is_known=True):
        for u, v in zip(users, values):
            submit(p, u, known, [dict(b, label=known.known_value[0]["label"]) for b in v] if task_type == "bbox" else v)
    item = Item.objects.filter(project=p, is_known=False).first()
    for u, v in zip(users, values):
        submit(p, u, item, v)
    item.refresh_from_db()
    assert item.status == "accepted" and item.value
    batch = task_services.batch_cut(project=p, kind=DeliveryBatch.Kind.REQUESTED)
    batch_certify(batch_id=batch.pk)
    batch.refresh_from_db()
    rows = b"".join(task_services.batch_export(batch=batch, fmt="jsonl")).decode().splitlines()
    import json

    row = json.loads(rows[0])
    assert row["value"] == item.value and row["label"] == item.label
    csv_text = b"".join(task_services.batch_export(batch=batch, fmt="csv")).decode()
    assert csv_text.splitlines()[0].endswith(",value")


def test_pay_follows_agreement_and_subjective_answers_are_paid():
    from workforce.models import Earning
    from workforce.services.pay import earnings_accrue

    p = project_of("bbox")
    item = Item.objects.filter(project=p, is_known=False).first()
    users = [annotator_working(p, qualifier=(10, 10)).annotator for _ in range(3)]
    stray = submit(p, users[0], item, [moved(SQUARE, 0.3)])
    a = submit(p, users[1], item, [SQUARE])
    b = submit(p, users[2], item, [moved(SQUARE, 0.01)])
    item.refresh_from_db()
    assert item.status == "accepted"
    assert [Answer.objects.get(pk=x.pk).correct for x in (a, b, stray)] == [True, True, False]
    earnings_accrue(project=p)
    paid = set(Earning.objects.filter(kind="answer").values_list("source_key", flat=True))
    assert {str(a.pk), str(b.pk)} <= paid and str(stray.pk) not in paid

    r = project_of("rating")
    it = Item.objects.filter(project=r, is_known=False).first()
    rated = [submit(r, annotator_working(r).annotator, it, v) for v in (1, 5, 3)]
    earnings_accrue(project=r)
    paid = set(Earning.objects.filter(kind="answer").values_list("source_key", flat=True))
    assert {str(x.pk) for x in rated} <= paid
