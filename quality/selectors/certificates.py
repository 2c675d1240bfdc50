"""A delivery batch's certificate: the model claim (shadow deliveries on known items, as
``project_claim`` computes them, weighted by the batch's own mix of decision statuses) with
per-class precision and recall from the same shadow deliveries, and the batch's audit when it
has results, combined as ``quality.engine.certificate`` explains."""
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


def batch_shadow_claim(*, batch: DeliveryBatch, outcomes=None) -> engine.ShadowClaim:
    """The model claim for this batch: shadow outcomes stratified by decision status and
    weighted by *this batch's* share of accepted / uncertain items (``engine.claim_from_shadow``,
    the call ``project_claim`` makes with the whole project's mix)."""
    outcomes = shadow_outcomes(project=batch.project) if outcomes is None else outcomes
    mix = dict(DeliveryBatchItem.objects.filter(batch=batch).values_list("status").annotate(n=Count("id")).order_by())
    project = batch.project
    return engine.claim_from_shadow([o for o, _, _ in outcomes], mix, confidence=project.confidence,
                                    target=project.accuracy_target)


def batch_strata(*, batch: DeliveryBatch) -> dict[str, int]:
    """Delivered label → items of the batch with it."""
    return dict(
        DeliveryBatchItem.objects.filter(batch=batch).values_list("label").annotate(n=Count("id")).order_by()
    )


def batch_certificate(*, batch: DeliveryBatch, outcomes=None, shadow=None) -> dict[str, Any]:
    """The certificate as stored on the batch and shown to the customer (see the keys below)."""
    project = batch.project
    outcomes = shadow_outcomes(project=project) if outcomes is None else outcomes
    shadow = shadow or batch_shadow_claim(batch=batch, outcomes=outcomes)
    claim = shadow.claim
    audit = Audit.objects.filter(batch=batch).first()
    audit_est = None
    if audit is not None:
        reviewed = list(
            AuditSample.objects.filter(audit=audit, reviewer_label__isnull=False).values_list("stratum", "reviewer_label")
        )
        if reviewed:
            audit_est = cert.audit_estimates(batch_strata(batch=batch), reviewed, project.labels, project.confidence)
    combined = cert.combine(
        model_correct=claim.correct, model_n=claim.n, design_effect=engine.SHADOW_DESIGN_EFFECT,
        audit=audit_est, confidence=project.confidence,
    )
    per_class_model = cert.class_metrics([(d, k) for _, d, k in outcomes], project.labels, project.confidence)
    certified = bool(combined.n > 0 and combined.lower >= project.accuracy_target)
    return {
        "status": "certified" if certified else "not_certified",
        "estimated_accuracy": None if combined.estimate is None else round(combined.estimate, 6),
        "sample_size": combined.n,
        "interval_lower": round(combined.lower, 6),
        "interval_upper": round(combined.upper, 6),
        "confidence": project.confidence,
        "interval": "one-sided bounds, each holding with probability `confidence`",
        "target": project.accuracy_target,
        "certified": certified,
        "source": combined.source,
        "method": combined.explanation,
        "per_class": per_class_model if audit_est is None else audit_est.per_class,
        "per_class_source": "model (shadow deliveries on known-answer items; Clopper-Pearson)" if audit_est is None
        else f"audit ({audit_est.method})",
        "model": {
            "estimated_accuracy": claim.accuracy, "sample_size": claim.n, "sample_correct": claim.correct,
            "interval_lower": claim.lower, "interval_upper": claim.upper, "method": claim.method,
            "per_class": per_class_model,
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
