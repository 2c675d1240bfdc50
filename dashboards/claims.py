"""The overview's accuracy claims: one read of the stored copies for a page of projects, the
claim recomputed (``quality.selectors.project_claim``) only for a project whose copy is missing
or older than ``CADRE_OVERVIEW_CLAIM_SECONDS`` (5 min), then stored (``ProjectClaimSnapshot``).

Decision (issue: the overview computed every project's claim on every view, linear in the
projects): the overview shows each claim as of when it was computed (at most the TTL old; the
page says so), the project page stays live. In the steady state a page costs the same queries
for 3 or 300 projects; a page whose copies all expired pays one recomputation per project on
it, bounded by the page size (``CADRE_OVERVIEW_PAGE_SIZE``), once per TTL.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from quality import selectors as quality_selectors
from tasks_app.models import Project

from .models import ProjectClaimSnapshot


def claim_ttl() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "CADRE_OVERVIEW_CLAIM_SECONDS", 300)))


def overview_claims(*, projects: list[Project], now: datetime | None = None) -> dict[int, ProjectClaimSnapshot]:
    """Each project's claim, keyed by project id: the stored copy when younger than the TTL,
    else recomputed and stored (the last write wins: two views recomputing at once store the
    same figures)."""
    now = now or timezone.now()
    stored = {s.project_id: s for s in ProjectClaimSnapshot.objects.filter(project__in=[p.pk for p in projects])}
    fresh_after = now - claim_ttl()
    for project in projects:
        snap = stored.get(project.pk)
        if snap is None or snap.computed_at < fresh_after:
            stored[project.pk] = claim_snapshot_store(project=project, now=now)
    return stored


def claim_snapshot_store(*, project: Project, now: datetime | None = None) -> ProjectClaimSnapshot:
    """Compute the project's claim now and store it as its overview copy."""
    claim = quality_selectors.project_claim(project=project).claim
    snap, _ = ProjectClaimSnapshot.objects.update_or_create(project=project, defaults={
        "accuracy": claim.accuracy, "lower": claim.lower, "upper": claim.upper, "n": claim.n,
        "correct": claim.correct, "certified": bool(claim.certified), "computed_at": now or timezone.now(),
    })
    return snap
