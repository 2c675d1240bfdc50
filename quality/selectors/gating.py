"""Gating reads for ops: each project's ban rate with its interval."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from tasks_app.models import Project
from workforce.models import Membership

from ..engine.sprt import wilson_interval

BAN_RATE_FLAG = 0.20  # Toloka's anchor: above it, suspect the rules or the instructions


@dataclass(frozen=True)
class BanRate:
    revoked: int
    paused: int
    n: int  # annotators who reached work on the project (qualified)
    rate: float | None
    lower: float
    upper: float
    flagged: bool  # point estimate above BAN_RATE_FLAG
    credibly: bool  # the whole 95 % interval above it
    threshold: float = BAN_RATE_FLAG


def project_ban_rate(*, project: Project) -> BanRate:
    """Share of the project's working annotators (qualified: stage ``working``) whose access
    was revoked, with a 95 % Wilson interval; flagged above 20 %."""
    return projects_ban_rate(project_ids=[project.pk])[project.pk]


def projects_ban_rate(*, project_ids) -> dict[int, BanRate]:
    """:func:`project_ban_rate` of several projects in one grouped query (the ops overview's
    page), keyed by project id; a project without working annotators gets n = 0."""
    rows = {
        r.pop("project_id"): r
        for r in Membership.objects.filter(project_id__in=list(project_ids), stage=Membership.Stage.WORKING)
        .values("project_id")
        .annotate(
            n=Count("id"),
            revoked=Count("id", filter=Q(standing=Membership.Standing.REVOKED)),
            paused=Count("id", filter=Q(standing=Membership.Standing.PAUSED)),
        )
        .order_by()
    }
    return {pid: _ban_rate(**rows.get(pid, {"n": 0, "revoked": 0, "paused": 0})) for pid in project_ids}


def _ban_rate(*, n: int, revoked: int, paused: int) -> BanRate:
    lo, hi = wilson_interval(revoked, n)
    rate = revoked / n if n else None
    return BanRate(
        revoked=revoked, paused=paused, n=n, rate=rate, lower=lo, upper=hi,
        flagged=bool(n and rate > BAN_RATE_FLAG), credibly=bool(n and lo > BAN_RATE_FLAG),
    )
