"""Ops views: annotators with their accuracy, throughput by hour, gating decisions."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from tasks_app import task_types
from tasks_app.models import Answer, Project
from workforce.models import Membership

from ..engine.sprt import wilson_interval
from ..models import AnnotatorQuality, GatingDecision, SubjectiveQuality
from ..services import posterior_of


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
                "annotator_id": m.annotator_id,
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
    if task_types.scoring_kind(project.task_type, project.type_config) == task_types.SUBJECTIVE:
        _with_consistency(project, out)
    return out


def _with_consistency(project: Project, rows: list[dict[str, Any]]) -> None:
    """Subjective projects have no known answers: the accuracy columns show self-consistency on
    hidden repeats instead (rate, 95 % Wilson interval, consistent/repeats), and ``consistency``
    adds the chance level and peer agreement (quality.services.subjective)."""
    evidence = {r.annotator_id: r for r in SubjectiveQuality.objects.filter(project=project)}
    for row in rows:
        ev = evidence.get(row["annotator_id"])
        n, k = (ev.repeats, ev.repeats_consistent) if ev else (0, 0)
        lo, hi = wilson_interval(k, n) if n else (None, None)
        row.update(checks=n, checks_correct=k, accuracy=k / n if n else None, lower=lo, upper=hi, consistency={
            "n": n, "rate": k / n if n else None, "lower": lo, "upper": hi, "chance": ev.chance if ev else None,
            "peer_n": ev.peer_n if ev else 0, "peer_rate": ev.peer_agree / ev.peer_n if ev and ev.peer_n else None,
        })


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
