"""A delivery batch's certificate: the model claim for the batch's own items (``delivery.items_claim``,
the one call behind the delivery API's claim and the crowd replay's: shadow deliveries on known
items post-stratified by decision status and calibrated P, weighted by this batch's items), and
the batch's audit when it has results, combined as ``quality.engine.certificate.certify``
explains (both bounds must hold; the smaller lower bound is reported).

Per-class precision and recall of the model part come from the shadow deliveries decided online
(:func:`shadow_outcomes`, which keep each shadow's delivered label; the re-estimate's stored
shadows keep only right or wrong), unweighted; with an audit they come from the audit."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count

from tasks_app import task_types
from tasks_app.models import Answer, DeliveryBatch, DeliveryBatchItem, Item, Project
from workforce.models import Membership

from .. import engine
from ..engine import certificate as cert
from ..models import AnnotatorQuality, Audit, AuditSample
from ..services import posterior_of
from .delivery import items_claim


def _shadow_accuracy_of(project: Project, annotator_ids):
    """``(annotator_id, correct) -> accuracy`` for shadow deliveries: the posterior mean leaving
    out that item's own check (``correct``), chance for a revoked or unknown annotator."""
    posts = {
        aq.annotator_id: posterior_of(aq)
        for aq in AnnotatorQuality.objects.filter(project=project, annotator_id__in=annotator_ids)
    }
    revoked = set(
        Membership.objects.filter(project=project, standing=Membership.Standing.REVOKED).values_list("annotator_id", flat=True)
    )
    chance = engine.chance_accuracy(len(project.labels))

    def accuracy_of(annotator_id: int, correct: bool) -> float:
        post = posts.get(annotator_id)
        if post is None or annotator_id in revoked:
            return chance
        if post.checks > 0:
            post = post.without_check(correct)
        return post.mean

    return accuracy_of


def shadow_outcomes(*, project: Project) -> list[tuple[engine.ShadowOutcome, str, str]]:
    """Every known item's shadow delivery: (outcome, label it would have delivered, known label).

    The same shadow deliveries as ``project_claim`` (answers in arrival order through the
    acceptance rule, each annotator's accuracy leaving that item's own check out, a revoked
    annotator at chance), kept with their labels for per-class metrics and re-weighted by each
    batch's own mix of decision statuses. Built from the same engine calls
    (``engine.shadow_decision``, ``posterior_of(...).without_check``). The structured task types
    that are not categorical use their own acceptance rule (``services.structured``, issue 6)."""
    if task_types.scoring_kind(project.task_type, project.type_config) != task_types.CATEGORICAL:
        from ..services.structured import structured_shadow_outcomes

        ids = set(Answer.objects.filter(project=project, is_check=True).values_list("annotator_id", flat=True))
        return structured_shadow_outcomes(project=project, accuracy_of=_shadow_accuracy_of(project, ids))
    rows = list(
        Answer.objects.filter(project=project, is_check=True, scored_at__isnull=False)
        .order_by("item_id", "id")
        .values_list("item_id", "annotator_id", "label", "correct")
    )
    accuracy_of = _shadow_accuracy_of(project, {r[1] for r in rows})
    known = dict(Item.objects.filter(pk__in={r[0] for r in rows}).values_list("id", "known_label"))
    by_item: dict[int, list] = defaultdict(list)
    for item_id, annotator_id, label, correct in rows:
        by_item[item_id].append((annotator_id, label, bool(correct)))
    out = []
    for item_id, answers in by_item.items():
        accs = [(label, accuracy_of(annotator_id, correct)) for annotator_id, label, correct in answers]
        decision = engine.shadow_decision(project.labels, accs, target=project.accuracy_target, cap=project.max_answers)
        if decision is not None:
            ok = decision.label == known[item_id]
            out.append((engine.ShadowOutcome(decision.status, decision.p_correct, ok), decision.label, known[item_id]))
    return out


def batch_delivered(*, batch: DeliveryBatch) -> list[tuple[str, float | None]]:
    """(decision status, calibrated P at delivery) of each item of the batch: the mix its claim
    is weighted by (``p_model`` is the item's ``p_correct`` when the batch was cut, the value the
    delivery API shows)."""
    return list(DeliveryBatchItem.objects.filter(batch=batch).values_list("status", "p_model").iterator(chunk_size=5000))


def batch_model_claim(*, batch: DeliveryBatch, sample=None) -> engine.DeliveryClaim:
    """The model claim for this batch's items: ``delivery.items_claim`` (the call ``project_claim``
    makes with every decided item of the project)."""
    return items_claim(project=batch.project, delivered=batch_delivered(batch=batch), sample=sample)


def batch_strata(*, batch: DeliveryBatch) -> dict[str, int]:
    """Delivered label → items of the batch with it."""
    return dict(
        DeliveryBatchItem.objects.filter(batch=batch).values_list("label").annotate(n=Count("id")).order_by()
    )


def batch_certificate(*, batch: DeliveryBatch, outcomes=None, sample=None) -> dict[str, Any]:
    """The certificate as stored on the batch and shown to the customer (see the keys below).
    ``outcomes`` (:func:`shadow_outcomes`) and ``sample`` (``delivery.claim_sample``) may be
    passed when the caller has them already."""
    project = batch.project
    outcomes = shadow_outcomes(project=project) if outcomes is None else outcomes
    claim = batch_model_claim(batch=batch, sample=sample)
    audit = Audit.objects.filter(batch=batch).first()
    audit_est = None
    if audit is not None:
        reviewed = list(
            AuditSample.objects.filter(audit=audit, reviewer_label__isnull=False).values_list("stratum", "reviewer_label")
        )
        if reviewed:
            audit_est = cert.audit_estimates(batch_strata(batch=batch), reviewed, project.labels, project.confidence)
    head = cert.certify(model=claim, audit=audit_est, target=project.accuracy_target, confidence=project.confidence)
    per_class_model = cert.class_metrics([(d, k) for _, d, k in outcomes], project.labels, project.confidence)
    return {
        "status": "certified" if head.certified else "not_certified",
        "estimated_accuracy": None if head.estimate is None else round(head.estimate, 6),
        "sample_size": head.n,
        "interval_lower": round(head.lower, 6),
        "interval_upper": round(head.upper, 6),
        "confidence": project.confidence,
        "interval": "one-sided bounds, each holding with probability `confidence`",
        "target": project.accuracy_target,
        "certified": head.certified,
        "source": head.source,
        "bound_from": head.bound_from,
        "combination": "both bounds must hold: the smaller of the model's and the audit's lower bounds is reported "
        "and certified only if it reaches the target (honest when either source is; the audit is a random sample "
        "of this batch)",
        "method": head.explanation,
        "per_class": per_class_model if audit_est is None else audit_est.per_class,
        "per_class_source": "model (shadow deliveries on known-answer items decided online, unweighted; "
        "Clopper-Pearson)" if audit_est is None else f"audit ({audit_est.method})",
        "model": {
            "estimated_accuracy": claim.accuracy, "sample_size": claim.n, "sample_correct": claim.correct,
            "interval_lower": claim.lower, "interval_upper": claim.upper, "certified": claim.certified,
            "method": claim.method, "per_class": per_class_model,
        },
        "audit": None if audit is None else {
            "id": audit.pk, "status": audit.status,
            "sampled": audit.samples.count(),
            "reviewed": 0 if audit_est is None else audit_est.reviewed,
            "correct": 0 if audit_est is None else audit_est.correct,
            "estimated_accuracy": None if audit_est is None else audit_est.accuracy.estimate,
            "interval_lower": None if audit_est is None else audit_est.accuracy.lower,
            "interval_upper": None if audit_est is None else audit_est.accuracy.upper,
        },
        "items": batch.items_count,
    }
