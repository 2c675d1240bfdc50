"""The delivery and its accuracy claim (shadow deliveries on known items)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count

from tasks_app.models import Answer, Item, Project
from workforce.models import Membership

from .. import engine
from ..models import AnnotatorQuality
from ..services import posterior_of


def project_claim(*, project: Project) -> engine.ShadowClaim:
    """The project's accuracy claim from *shadow deliveries* on its known-answer items.

    Each known item's answers are taken in arrival order and run through the same
    acceptance rule as real items (``engine.shadow_decision``), each annotator's accuracy
    estimated leaving that item's own check out; the label it would have delivered is
    compared with the known answer. Those outcomes, split by decision status and weighted
    by the delivery's own mix of statuses, give the claim and the per-item calibration
    (``engine.claim_from_shadow``) — the very calls the crowd replay makes.
    """
    rows = list(
        Answer.objects.filter(project=project, is_check=True, scored_at__isnull=False)
        .order_by("item_id", "id")
        .values_list("item_id", "annotator_id", "label", "correct")
    )
    posts = {
        aq.annotator_id: posterior_of(aq)
        for aq in AnnotatorQuality.objects.filter(project=project, annotator_id__in={r[1] for r in rows})
    }
    revoked = set(
        Membership.objects.filter(project=project, standing=Membership.Standing.REVOKED).values_list(
            "annotator_id", flat=True
        )
    )
    known = dict(Item.objects.filter(pk__in={r[0] for r in rows}).values_list("id", "known_label"))
    chance = engine.chance_accuracy(len(project.labels))
    by_item: dict[int, list[tuple[int, str, bool]]] = defaultdict(list)
    for item_id, annotator_id, label, correct in rows:
        by_item[item_id].append((annotator_id, label, bool(correct)))

    def loo_accuracy(annotator_id: int, correct: bool) -> float:
        post = posts.get(annotator_id)
        if post is None or annotator_id in revoked:
            return chance
        if post.checks > 0:
            post = post.without_check(correct)
        return post.mean

    shadow: list[engine.ShadowOutcome] = []
    for item_id, answers in by_item.items():
        decision = engine.shadow_decision(
            project.labels,
            [(label, loo_accuracy(annotator_id, correct)) for annotator_id, label, correct in answers],
            target=project.accuracy_target,
            cap=project.max_answers,
        )
        if decision is not None:
            correct = decision.label == known[item_id]
            shadow.append(engine.ShadowOutcome(decision.status, decision.p_correct, correct))
    delivered = dict(
        Item.objects.filter(project=project, is_known=False)
        .exclude(status=Item.Status.OPEN)
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return engine.claim_from_shadow(
        shadow, delivered, confidence=project.confidence, target=project.accuracy_target
    )


def project_delivery(*, project: Project) -> dict[str, Any]:
    """Decided items (accepted, and uncertain at the cap, flagged) with label, calibrated
    P(correct) and answers used, plus the summary claim."""
    pc = project_claim(project=project)
    items = (
        Item.objects.filter(project=project, is_known=False)
        .exclude(status=Item.Status.OPEN)
        .order_by("id")
        .values("external_id", "label", "p_correct", "answers_count", "status")
    )
    out_items = [
        {
            "external_id": row["external_id"],
            "label": row["label"],
            "p_correct": round(pc.p_correct(row["status"], row["p_correct"]), 4) if row["p_correct"] is not None else None,
            "answers_used": row["answers_count"],
            "status": row["status"],
        }
        for row in items
    ]
    claim = pc.claim
    accepted = sum(1 for r in out_items if r["status"] == Item.Status.ACCEPTED)
    summary = {
        "items_delivered": len(out_items),
        "items_accepted": accepted,
        "items_uncertain": len(out_items) - accepted,
        "estimated_accuracy": claim.accuracy,
        "sample_size": claim.n,
        "sample_correct": claim.correct,
        "interval_lower": claim.lower,
        "interval_upper": claim.upper,
        "confidence": project.confidence,
        "target": project.accuracy_target,
        "certified": claim.certified,
        "method": "shadow deliveries on hidden known-answer items (the acceptance rule re-run on each known "
        f"item's answers, leaving its own check out), stratified by decision status: {claim.method}",
        "mean_p_correct": round(sum(r["p_correct"] or 0 for r in out_items) / len(out_items), 4) if out_items else None,
    }
    return {"project": project.pk, "summary": summary, "items": out_items}
