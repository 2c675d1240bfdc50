"""Reads of the quality engine: project progress, the delivery with its accuracy claim,
and the ops view of annotators."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from tasks_app.models import Answer, Item, Project
from workforce.models import Membership

from . import engine
from .models import AnnotatorQuality, GatingDecision
from .services import posterior_of, project_bar


def project_progress(*, project: Project) -> dict[str, Any]:
    items = Item.objects.filter(project=project, is_known=False).aggregate(
        total=Count("id"),
        accepted=Count("id", filter=Q(status=Item.Status.ACCEPTED)),
        exhausted=Count("id", filter=Q(status=Item.Status.EXHAUSTED)),
        pending=Count("id", filter=Q(status=Item.Status.OPEN)),
    )
    answers = Answer.objects.filter(project=project).aggregate(
        total=Count("id"), checks=Count("id", filter=Q(is_check=True)), unscored=Count("id", filter=Q(scored_at__isnull=True))
    )
    standing = dict(
        Membership.objects.filter(project=project, stage=Membership.Stage.WORKING)
        .values_list("standing")
        .annotate(n=Count("id"))
    )
    return {
        "project": project.pk,
        "status": project.status,
        "items_total": items["total"],
        "items_accepted": items["accepted"],
        "items_uncertain": items["exhausted"],
        "items_pending": items["pending"],
        "answers": answers["total"],
        "known_checks": answers["checks"],
        "answers_unscored": answers["unscored"],
        "annotators_active": standing.get(Membership.Standing.ACTIVE, 0),
        "annotators_warned": standing.get(Membership.Standing.WARNED, 0),
        "annotators_revoked": standing.get(Membership.Standing.REVOKED, 0),
    }


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


def project_annotators(*, project: Project) -> list[dict[str, Any]]:
    """Annotators working on the project with standing, accuracy (mean + interval), volume."""
    members = list(
        Membership.objects.filter(project=project).select_related("annotator").order_by("standing", "annotator__username")
    )
    quality = {aq.annotator_id: aq for aq in AnnotatorQuality.objects.filter(project=project)}
    volume = dict(
        Answer.objects.filter(project=project).values_list("annotator_id").annotate(n=Count("id"))
    )
    out = []
    for m in members:
        aq = quality.get(m.annotator_id)
        post = posterior_of(aq) if aq else None
        lo, hi = post.interval(project.confidence) if post else (None, None)
        out.append(
            {
                "username": m.annotator.username,
                "stage": m.stage,
                "standing": m.standing,
                "reason": m.standing_reason,
                "checks": post.checks if post else 0,
                "checks_correct": post.correct if post else 0,
                "accuracy": post.mean if post else None,
                "lower": lo,
                "upper": hi,
                "answers": volume.get(m.annotator_id, 0),
                "known_check_rate": m.known_check_rate,
                "qualifier": f"{m.qualifier_correct}/{m.qualifier_total}" if m.qualifier_total else "",
            }
        )
    return out


def project_throughput(*, project: Project, hours: int = 24) -> list[dict[str, Any]]:
    """Answers per hour over the last ``hours`` hours."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        Answer.objects.filter(project=project, created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(answers=Count("id"), checks=Count("id", filter=Q(is_check=True)))
        .order_by("hour")
    )
    return list(rows)


def project_decisions(*, project: Project, limit: int = 50):
    return list(GatingDecision.objects.filter(project=project).select_related("annotator")[:limit])


__all__ = [
    "project_progress",
    "project_claim",
    "project_delivery",
    "project_annotators",
    "project_throughput",
    "project_decisions",
    "project_bar",
]
