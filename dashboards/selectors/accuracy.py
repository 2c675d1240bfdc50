"""Accuracy over time: one point per delivery batch (its certificate as stored: estimate,
sample size, one-sided bounds at the customer's confidence, certified or not) and, last, the
engine's current estimate (the shadow-delivery claim on the known-answer items, now)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from quality import selectors as quality_selectors
from tasks_app.models import DeliveryBatch, Project


@dataclass(frozen=True)
class AccuracyPoint:
    when: datetime
    source: str  # "batch 3 (incremental)" or "engine now"
    estimate: float | None
    lower: float | None
    upper: float | None
    n: int
    certified: bool


def accuracy_history(*, project: Project, now: datetime | None = None) -> list[AccuracyPoint]:
    points = []
    for batch in DeliveryBatch.objects.filter(project=project).order_by("created_at", "number"):
        c = batch.certificate or {}
        if c.get("estimated_accuracy") is None:  # not certified yet (the task has not run) or no evidence
            continue
        points.append(AccuracyPoint(
            when=batch.certificate_updated_at or batch.created_at, source=f"batch {batch.number} ({batch.kind})",
            estimate=c["estimated_accuracy"], lower=c.get("interval_lower"), upper=c.get("interval_upper"),
            n=int(c.get("sample_size") or 0), certified=bool(c.get("certified")),
        ))
    claim = quality_selectors.project_claim(project=project).claim
    if claim.accuracy is not None:
        points.append(AccuracyPoint(when=now or timezone.now(), source="engine now", estimate=claim.accuracy,
                                    lower=claim.lower, upper=claim.upper, n=claim.n, certified=claim.certified))
    return points
