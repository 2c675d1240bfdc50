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
    row = Membership.objects.filter(project=project, stage=Membership.Stage.WORKING).aggregate(
        n=Count("id"),
        revoked=Count("id", filter=Q(standing=Membership.Standing.REVOKED)),
        paused=Count("id", filter=Q(standing=Membership.Standing.PAUSED)),
    )
    n, k = row["n"], row["revoked"]
    lo, hi = wilson_interval(k, n)
    rate = k / n if n else None
    return BanRate(
        revoked=k, paused=row["paused"], n=n, rate=rate, lower=lo, upper=hi,
        flagged=bool(n and rate > BAN_RATE_FLAG), credibly=bool(n and lo > BAN_RATE_FLAG),
    )
