"""Certifying delivery batches and auditing them.

``batch_certify``: the P(correct) of each delivered item (its stored calibrated P) and the batch's
certificate (``quality.selectors.certificates``), then the customer's webhook (``pilot.ready`` for a pilot
batch, ``delivery.ready`` otherwise). Enqueued by name by ``tasks_app`` when a batch is cut.

After the first certification of a batch, ``suspects_run_request`` sends the Celery task
``dashboards.suspects_run`` by name (quality does not import dashboards) when the batch holds
enough labelled items for the cross-validation of a label-error suspect run.

``audit_create``: a random sample of the batch sized for the customer's margin and confidence
(``quality.engine.sampling``), allocated across delivered labels with a floor for rare ones,
plus an elusion sample (items delivered with another label) for each rare class.
``audit_review``: a reviewer gives a sampled item its true label. ``audit_complete``: once every
sample is reviewed, the certificate is recomputed with the audit, items found wrong are
reopened (``tasks_app.services.items_reopen``), and every answer on a reviewed item becomes
evidence on its annotator (agreed with the reviewer or not, ``annotator_evidence_add``): the counts are kept in
``AnnotatorAuditRecord`` and added to the annotator's Beta posterior (``alpha``/``beta``, not
the known-answer ``checks`` counters, which gating and the shadow claim read as checks).
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict

from django.conf import settings

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from tasks_app.models import Answer, DeliveryBatch, DeliveryBatchItem, Project
from tasks_app.services import deliveries as task_deliveries
from tasks_app.services import webhooks as task_webhooks
from tasks_app.services.enqueue import task_enqueue
from workforce.models import Membership

from ..engine import sampling
from ..models import AnnotatorAuditRecord, Audit, AuditSample
from .common import _quality_row


def batch_certify(*, batch_id: int) -> dict:
    """Compute and store the batch's calibrated probabilities and certificate; send the webhook
    the first time the batch is certified."""
    from ..selectors.certificates import batch_certificate

    batch = DeliveryBatch.objects.select_related("project").filter(pk=batch_id).first()
    if batch is None:
        return {}
    first_time = batch.certificate_updated_at is None
    # Each item's P(correct) as delivered is its stored calibrated P (``p_model``, the item's
    # ``p_correct`` when the batch was cut): the value the delivery API shows and the score the
    # claim post-stratifies on, so one item carries one probability everywhere.
    pairs = DeliveryBatchItem.objects.filter(batch=batch, p_model__isnull=False).values_list("status", "p_model").distinct()
    calibrated = {(s, pm): round(pm, 4) for s, pm in pairs}
    certificate = batch_certificate(batch=batch)
    task_deliveries.batch_certificate_set(batch_id=batch.pk, certificate=certificate, calibrated=calibrated)
    if first_time:
        event = "pilot.ready" if batch.kind == DeliveryBatch.Kind.PILOT else "delivery.ready"
        task_webhooks.event_emit(project=batch.project, event=event, payload={
            "project": batch.project_id, "batch": batch.number, "kind": batch.kind, "items": batch.items_count,
            "certificate": {k: certificate[k] for k in (
                "estimated_accuracy", "sample_size", "interval_lower", "interval_upper", "confidence", "target", "certified")},
        })
        suspects_run_request(batch=batch)
    return certificate


SUSPECTS_TASK = "dashboards.suspects_run"
SUSPECTS_FOLDS = 5  # the suspect run's cross-validation folds (dashboards.analysis.confident.MAX_FOLDS)


def suspects_run_request(*, batch: DeliveryBatch) -> bool:
    """Send ``dashboards.suspects_run`` for the batch when it can be cross-validated: at least
    ``CADRE_SUSPECTS_AUTO_MIN_ITEMS`` (default 50, 0 = never) labelled items, of which at least
    two labels have ``SUSPECTS_FOLDS`` items each (so every fold holds both). Below that the
    per-class thresholds average over too few items to rank anything; ops can still start a run
    from the suspects page. Returns whether it was sent."""
    minimum = int(getattr(settings, "CADRE_SUSPECTS_AUTO_MIN_ITEMS", 50))
    if minimum <= 0:
        return False
    counts = Counter(dict(DeliveryBatchItem.objects.filter(batch=batch, label__isnull=False).values_list("label")
                          .annotate(n=Count("id")).values_list("label", "n").order_by()))
    if sum(counts.values()) < minimum or sum(1 for n in counts.values() if n >= SUSPECTS_FOLDS) < 2:
        return False
    task_enqueue(SUSPECTS_TASK, batch_id=batch.pk)
    return True


def audit_create(
    *, batch: DeliveryBatch, margin: float, confidence: float | None = None, expected_accuracy: float | None = None,
    min_per_class: int = 20, rare_below: float = 0.1, user=None, seed: int | None = None,
) -> Audit:
    """Draw the audit sample of a batch (one audit per batch)."""
    project = batch.project
    confidence = confidence or project.confidence
    expected_accuracy = expected_accuracy or project.accuracy_target
    if Audit.objects.filter(batch=batch).exists():
        raise ValidationError({"batch": ["This delivery batch already has an audit."]})
    if batch.items_count == 0:
        raise ValidationError({"batch": ["This delivery batch has no items to audit."]})
    try:
        size = sampling.sample_size(margin=margin, confidence=confidence, expected_accuracy=expected_accuracy,
                                    population=batch.items_count)
    except ValueError as exc:
        raise ValidationError({"non_field_errors": [str(exc)]}) from None
    by_label: dict[str, list[int]] = defaultdict(list)
    for item_id, label in DeliveryBatchItem.objects.filter(batch=batch).order_by("item_id").values_list("item_id", "label").iterator(chunk_size=5000):
        by_label[label].append(item_id)
    strata = {lab: len(ids) for lab, ids in by_label.items()}
    alloc = sampling.allocate(size.n, strata, min_per_stratum=min_per_class)
    elusion = sampling.elusion_sizes(
        {lab: strata.get(lab, 0) for lab in project.labels}, margin=margin, confidence=confidence, rare_below=rare_below
    )
    rng = random.Random(seed if seed is not None else batch.pk * 7919 + batch.items_count)
    chosen: dict[int, tuple[str, str]] = {}
    for lab in sorted(by_label):
        for item_id in rng.sample(by_label[lab], alloc.get(lab, 0)):
            chosen[item_id] = (lab, "")
    elusion_drawn: dict[str, int] = {}
    for rare, n in sorted(elusion.items()):
        pool = [i for lab in sorted(by_label) if lab != rare for i in by_label[lab] if i not in chosen]
        picked = rng.sample(pool, min(n, len(pool)))
        for item_id in picked:
            chosen[item_id] = ("", rare)
        elusion_drawn[rare] = len(picked)
    label_of = {i: lab for lab, ids in by_label.items() for i in ids if i in chosen}
    plan = {
        "sample_size": {"n": size.n, "n_infinite": size.n_infinite, "n_wald": size.n_wald, "population": size.population,
                        "method": size.method},
        "strata": strata, "allocation": alloc, "min_per_class": min_per_class, "rare_below": rare_below,
        "elusion": elusion_drawn,
        "elusion_method": "for each class delivered for under rare_below of the batch, a random sample of the items "
        "delivered with another label (sized for the class's share with half of it as margin): how many of the rare "
        "class the delivery missed",
    }
    with transaction.atomic():
        audit = Audit.objects.create(project=project, batch=batch, margin=margin, confidence=confidence,
                                     expected_accuracy=expected_accuracy, plan=plan, created_by=user)
        AuditSample.objects.bulk_create(
            AuditSample(audit=audit, item_id=item_id, stratum=label_of[item_id], elusion_for=rare,
                        delivered_label=label_of[item_id])
            for item_id, (_, rare) in sorted(chosen.items())
        )
    return audit


def audit_review(*, sample: AuditSample, label: str, user) -> AuditSample:
    """A reviewer's verdict on one sampled item: its true label (may be changed until the audit completes)."""
    with transaction.atomic():
        sample = AuditSample.objects.select_for_update().select_related("audit__project").get(pk=sample.pk)
        if sample.audit.status != Audit.Status.OPEN:
            raise ValidationError({"audit": ["This audit is complete; its reviews can no longer change."]})
        if label not in sample.audit.project.labels:
            raise ValidationError({"label": [f"{label!r} is not one of this project's labels."]})
        sample.reviewer_label = label
        sample.reviewed_by = user
        sample.reviewed_at = timezone.now()
        sample.save(update_fields=["reviewer_label", "reviewed_by", "reviewed_at"])
    return sample


def audit_complete(*, audit: Audit) -> dict:
    """Close a fully reviewed audit: annotator evidence, reopen wrong items, recompute the
    certificate. Returns a summary."""
    with transaction.atomic():
        audit = Audit.objects.select_for_update().select_related("project").get(pk=audit.pk)
        if audit.status != Audit.Status.OPEN:
            raise ValidationError({"audit": ["This audit is already complete."]})
        samples = list(audit.samples.all())
        missing = sum(1 for s in samples if s.reviewer_label is None)
        if missing:
            raise ValidationError({"samples": [f"{missing} sampled item(s) are not reviewed yet."]})
        truth = {s.item_id: s.reviewer_label for s in samples}
        wrong = sorted(s.item_id for s in samples if not s.correct)
        annotator_evidence_add(project=audit.project, truth=truth)
        audit.status = Audit.Status.COMPLETE
        audit.completed_at = timezone.now()
        audit.save(update_fields=["status", "completed_at"])
        reopened = task_deliveries.items_reopen(item_ids=wrong, reason="audit")
    certificate = batch_certify(batch_id=audit.batch_id)
    return {"reviewed": len(samples), "wrong": len(wrong), "reopened": reopened, "certificate": certificate}


def annotator_evidence_add(*, project: Project, truth: dict[int, str]) -> None:
    """Each answer on a reviewed item (item id → the reviewer's label in ``truth``) is evidence
    on its annotator: agreeing or not with the reviewer, counted in ``AnnotatorAuditRecord``
    and added to the Beta posterior. Used by audits and by dashboards' label-error review;
    call it inside the caller's transaction (it locks the annotators' quality rows)."""
    tally: dict[int, Counter] = defaultdict(Counter)
    for annotator_id, item_id, label in Answer.objects.filter(item_id__in=list(truth)).values_list(
        "annotator_id", "item_id", "label"
    ):
        tally[annotator_id]["reviewed"] += 1
        tally[annotator_id]["agreed"] += int(label == truth[item_id])
    members = {m.annotator_id: m for m in Membership.objects.filter(project=project, annotator_id__in=list(tally))}
    for annotator_id in sorted(tally):  # fixed lock order
        t = tally[annotator_id]
        rec, _ = AnnotatorAuditRecord.objects.get_or_create(project=project, annotator_id=annotator_id)
        AnnotatorAuditRecord.objects.filter(pk=rec.pk).update(
            reviewed=F("reviewed") + t["reviewed"], agreed=F("agreed") + t["agreed"]
        )
        member = members.get(annotator_id)
        aq = _quality_row(project, member.annotator if member else _user(annotator_id), member, lock=True)
        aq.alpha += t["agreed"]
        aq.beta += t["reviewed"] - t["agreed"]
        aq.save(update_fields=["alpha", "beta", "updated_at"])


def _user(pk: int):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=pk)
