"""Label-error suspects on PostgreSQL: a run over a seeded delivery batch, reviews feeding quality."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from dashboards.analysis import demo
from dashboards.analysis import suspects as svc
from dashboards.models import Suspect, SuspectRun
from quality.models import AnnotatorAuditRecord, AnnotatorQuality
from tasks_app import services as task_services
from tasks_app.models import Answer, DeliveryBatch, DeliveryBatchItem, Item
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    return demo.seed(photos=10, headlines=240)


@pytest.fixture
def ops():
    return get_user_model().objects.create_user("ops-reviewer", password="x", is_staff=True)


def test_run_finds_the_planted_errors(seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run, created = svc.suspect_run_start(batch=seeded.batch)  # the eager Celery task computes it
    assert created
    run.refresh_from_db()
    assert run.status == SuspectRun.Status.DONE and run.items_used == 240
    found = {s.item.external_id for s in svc.suspects_of(run=run)}
    real = set(seeded.flipped)
    assert len(found & real) / len(found) >= 0.9 and len(found & real) / len(real) >= 0.6
    assert list(svc.suspects_of(run=run).values_list("rank", flat=True)) == list(range(1, len(found) + 1))
    top = svc.suspects_of(run=run).first()
    assert top.suggested_label == seeded.flipped[top.item.external_id]
    assert run.method["folds"] == 5 and run.method["features"].startswith("TF-IDF")
    # asking again while nothing is pending starts a new run; a pending one is reused
    again, created = svc.suspect_run_start(batch=seeded.batch)
    assert created and svc.suspect_run_start(batch=seeded.batch) == (again, False)


def _computed_run(seeded):
    run, _ = svc.suspect_run_start(batch=seeded.batch)
    return svc.suspect_run_compute(run_id=run.pk)


def test_correcting_updates_the_item_redelivers_it_and_counts_against_the_annotators(seeded, ops):
    run = _computed_run(seeded)
    s = next(x for x in svc.suspects_of(run=run) if x.item.external_id in seeded.flipped)
    right = seeded.flipped[s.item.external_id]
    annotators = list(Answer.objects.filter(item=s.item).values_list("annotator_id", flat=True))
    before = {a: AnnotatorQuality.objects.filter(project=run.project, annotator_id=a).first() for a in annotators}
    svc.suspect_review(suspect=s, outcome="corrected", label=right, user=ops)
    item = Item.objects.get(pk=s.item_id)
    assert item.label == right and item.status == Item.Status.ACCEPTED and item.delivered_at is None
    assert 0 < item.p_correct < 1
    s.refresh_from_db()
    assert s.outcome == "corrected" and s.final_label == right and s.reviewed_by == ops and s.reviewed_at
    for a in annotators:  # both gave the wrong label: evidence against them, as an audit would count it
        rec = AnnotatorAuditRecord.objects.get(project=run.project, annotator_id=a)
        assert (rec.reviewed, rec.agreed) == (1, 0)
        aq = AnnotatorQuality.objects.get(project=run.project, annotator_id=a)
        old_beta = before[a].beta if before[a] else None
        assert old_beta is None or aq.beta == old_beta + 1
    # the corrected label goes out in the next batch
    batch2 = task_services.batch_cut(project=run.project, kind=DeliveryBatch.Kind.REQUESTED)
    assert list(DeliveryBatchItem.objects.filter(batch=batch2).values_list("item_id", "label")) == [(item.pk, right)]
    with pytest.raises(ValidationError, match="Already reviewed"):
        svc.suspect_review(suspect=s, outcome="kept", user=ops)


def test_keeping_is_evidence_for_the_given_label(seeded, ops):
    run = _computed_run(seeded)
    s = svc.suspects_of(run=run).last()
    svc.suspect_review(suspect=s, outcome="kept", user=ops)
    item = Item.objects.get(pk=s.item_id)
    assert item.label == s.given_label and item.delivered_at is not None
    for a in Answer.objects.filter(item=item).values_list("annotator_id", flat=True):
        rec = AnnotatorAuditRecord.objects.get(project=run.project, annotator_id=a)
        assert (rec.reviewed, rec.agreed) == (1, 1)


def test_bad_reviews_are_refused_and_change_nothing(seeded, ops):
    run = _computed_run(seeded)
    s = svc.suspects_of(run=run).first()
    for kwargs, msg in ((dict(outcome="corrected", label="weather"), "labels"),
                        (dict(outcome="corrected", label=s.given_label), "delivered label"),
                        (dict(outcome="maybe"), "corrected or kept")):
        with pytest.raises(ValidationError, match=msg):
            svc.suspect_review(suspect=s, user=ops, **kwargs)
    task_services.items_reopen(item_ids=[s.item_id])  # an audit reopened it meanwhile
    with pytest.raises(ValidationError, match="changed since"):
        svc.suspect_review(suspect=s, outcome="kept", user=ops)
    assert not Suspect.objects.exclude(outcome="").exists()
    assert not AnnotatorAuditRecord.objects.exists()


def test_a_batch_too_small_fails_with_a_reason(ops):
    d = demo.seed(photos=5, headlines=6)
    run, _ = svc.suspect_run_start(batch=d.batch, user=ops)
    run = svc.suspect_run_compute(run_id=run.pk)
    assert run.status == SuspectRun.Status.FAILED and "at least 10" in run.error
    assert svc.suspect_run_compute(run_id=run.pk).status == SuspectRun.Status.FAILED  # idempotent


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_run_is_computed_by_a_real_worker(celery_worker):
    d = demo.seed(photos=5, headlines=60)
    run, _ = svc.suspect_run_start(batch=d.batch)  # committed: the task goes to Redis after commit
    wait_for(lambda: SuspectRun.objects.get(pk=run.pk).status != SuspectRun.Status.PENDING, timeout=60,
             message="the worker to compute the suspect run")
    assert SuspectRun.objects.get(pk=run.pk).status == SuspectRun.Status.DONE
    assert "dashboards.suspects_run" in celery_worker["log"].read_text()


# --- the automatic run after a batch's first certification (quality sends the task by name) ----------

def test_first_certification_of_a_batch_starts_a_suspect_run(seeded, django_capture_on_commit_callbacks):
    from cadre.celery import app as celery_app
    from quality.services.audits import batch_certify

    assert not SuspectRun.objects.exists()  # the batch was cut, its certification never ran (no commit here)
    with django_capture_on_commit_callbacks(execute=True):
        celery_app.signature("quality.batch_certify", args=(seeded.batch.pk,)).delay()  # what batch_cut sends
    run = SuspectRun.objects.get(batch=seeded.batch)
    assert run.status == SuspectRun.Status.DONE and run.created_by is None and run.items_used == 240
    assert run.suspects_count > 0
    with django_capture_on_commit_callbacks(execute=True):  # recertified (an audit completed): no second run
        batch_certify(batch_id=seeded.batch.pk)
    assert SuspectRun.objects.filter(batch=seeded.batch).count() == 1


def test_the_automatic_run_needs_a_batch_that_can_be_cross_validated(settings, django_capture_on_commit_callbacks):
    from dashboards.analysis import confident
    from quality.services.audits import SUSPECTS_FOLDS, suspects_run_request

    assert SUSPECTS_FOLDS == confident.MAX_FOLDS and settings.CADRE_SUSPECTS_AUTO_MIN_ITEMS >= confident.MIN_ITEMS
    small = demo.seed(photos=5, headlines=40)  # 40 labelled items < 50
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert suspects_run_request(batch=small.batch) is False
    assert sent == [] and not SuspectRun.objects.exists()
    settings.CADRE_SUSPECTS_AUTO_MIN_ITEMS = 40
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert suspects_run_request(batch=small.batch) is True
    assert SuspectRun.objects.get(batch=small.batch).status == SuspectRun.Status.DONE
    # one label with 5+ items is not enough: nothing to tell it from
    labels = list(DeliveryBatchItem.objects.filter(batch=small.batch).values_list("label", flat=True).distinct())
    DeliveryBatchItem.objects.filter(batch=small.batch).exclude(label=labels[0]).update(label=None)
    settings.CADRE_SUSPECTS_AUTO_MIN_ITEMS = 1
    assert suspects_run_request(batch=small.batch) is False
    settings.CADRE_SUSPECTS_AUTO_MIN_ITEMS = 0  # off
    assert suspects_run_request(batch=small.batch) is False


def test_the_task_with_a_batch_skips_a_batch_that_already_has_a_run(seeded, django_capture_on_commit_callbacks):
    from dashboards.tasks import suspects_run

    ops_run, _ = svc.suspect_run_start(batch=seeded.batch)  # ops started one first (still pending)
    assert suspects_run(batch_id=seeded.batch.pk) == "skipped"
    assert suspects_run(batch_id=999999) == "skipped"
    assert list(SuspectRun.objects.values_list("pk", flat=True)) == [ops_run.pk]
