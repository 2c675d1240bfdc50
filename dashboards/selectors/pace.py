"""Throughput, ETA and the on-track verdict of a project.

Throughput is measured over a trailing window (``WINDOW``, 24 h): answers per hour and items
decided (accepted or uncertain at the cap) per hour. ETA = items not yet decided / decisions per
hour, from now; none while nothing was decided in the window. The verdict lists every reason
that puts a live project off track (see ``project_verdict``); no reason means on track."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from quality import selectors as quality_selectors
from tasks_app.models import Answer, Item, Project

from ..claims import overview_claims
from .queues import QueueState, _grouped, projects_queue

WINDOW = timedelta(hours=24)
LAG_LIMIT = timedelta(minutes=5)  # an answer unscored for longer means the workers are behind


@dataclass(frozen=True)
class Pace:
    items_total: int  # regular items (known-answer checks excluded)
    items_decided: int  # accepted + uncertain at the cap
    answers_window: int
    decided_window: int
    window_hours: float
    now: datetime

    @property
    def progress(self) -> float | None:
        return self.items_decided / self.items_total if self.items_total else None

    @property
    def remaining(self) -> int:
        return self.items_total - self.items_decided

    @property
    def answers_per_hour(self) -> float:
        return self.answers_window / self.window_hours

    @property
    def decided_per_hour(self) -> float:
        return self.decided_window / self.window_hours

    @property
    def eta_hours(self) -> float | None:
        if self.remaining == 0:
            return 0.0
        return self.remaining / self.decided_per_hour if self.decided_window else None

    @property
    def eta(self) -> datetime | None:
        hours = self.eta_hours
        return None if hours is None else self.now + timedelta(hours=hours)


def project_pace(*, project: Project, now: datetime | None = None, window: timedelta = WINDOW) -> Pace:
    return projects_pace(project_ids=[project.pk], now=now, window=window)[project.pk]


def projects_pace(*, project_ids, now: datetime | None = None, window: timedelta = WINDOW) -> dict[int, Pace]:
    """:func:`project_pace` of several projects in two grouped queries (items, answers in the window)."""
    now = now or timezone.now()
    since = now - window
    ids = list(project_ids)
    decided = Q(status__in=[Item.Status.ACCEPTED, Item.Status.EXHAUSTED])
    items = _grouped(
        Item.objects.filter(project_id__in=ids, is_known=False),
        total=Count("id"), decided=Count("id", filter=decided),
        decided_window=Count("id", filter=decided & Q(decided_at__gte=since)),
    )
    answers = _grouped(Answer.objects.filter(project_id__in=ids, created_at__gte=since), n=Count("id"))
    out = {}
    for pid in ids:
        i = items.get(pid, {"total": 0, "decided": 0, "decided_window": 0})
        out[pid] = Pace(
            items_total=i["total"], items_decided=i["decided"], answers_window=answers.get(pid, {"n": 0})["n"],
            decided_window=i["decided_window"], window_hours=window.total_seconds() / 3600, now=now,
        )
    return out


@dataclass(frozen=True)
class Verdict:
    on_track: bool | None  # None: not running (draft, or waiting for the pilot review)
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return {True: "on track", False: "off track", None: "not running"}[self.on_track]


def project_verdict(*, project: Project, pace: Pace, claim, ban, queue: QueueState) -> Verdict:
    """Why a project is (not) on track. Checked, in this order:

    - complete → on track ("complete"); draft / pilot review → not running (says which);
    - accuracy: the claim's *upper* bound below the target → off track (the target is credibly out
      of reach with the current crowd); a lower bound below the target is normal early on and
      only noted;
    - ban rate flagged (above 20 %: suspect the rules or the instructions) → off track;
    - items left but none decided in the window → off track (stalled);
    - the oldest unscored answer older than ``LAG_LIMIT`` → off track (scoring workers behind).
    """
    if project.phase == Project.Phase.COMPLETE or project.status == Project.Status.COMPLETE:
        return Verdict(True, ["complete"])
    if project.phase == Project.Phase.DRAFT:
        return Verdict(None, ["draft: not launched"])
    if project.phase == Project.Phase.PILOT_REVIEW:
        return Verdict(None, ["pilot under the customer's review"])
    problems: list[str] = []
    notes: list[str] = []
    if claim.n and claim.upper < project.accuracy_target:
        problems.append(
            f"accuracy below target: upper bound {claim.upper:.3f} < target {project.accuracy_target:.3f} (n={claim.n})"
        )
    elif not claim.n:
        notes.append("no accuracy evidence yet")
    elif claim.lower < project.accuracy_target:
        notes.append(f"accuracy not yet certified: lower bound {claim.lower:.3f} < target {project.accuracy_target:.3f}")
    if ban.flagged:
        problems.append(f"ban rate {ban.rate:.0%} above {ban.threshold:.0%}: check the rules and instructions")
    if pace.remaining and not pace.decided_window:
        problems.append(f"stalled: no item decided in the last {pace.window_hours:.0f} h, {pace.remaining} left")
    lag = queue.oldest_unscored_seconds
    if lag is not None and lag > LAG_LIMIT.total_seconds():
        problems.append(f"scoring behind: oldest unscored answer waited {lag / 60:.0f} min")
    if problems:
        return Verdict(False, problems + notes)
    eta = pace.eta_hours
    pace_note = f"{pace.decided_per_hour:.1f} items/h" + (f", ETA {eta:.1f} h" if eta else "")
    return Verdict(True, [pace_note] + notes)


@dataclass(frozen=True)
class OverviewRow:
    project: Project
    pace: Pace
    claim: object  # dashboards.models.ProjectClaimSnapshot (the claim's accuracy, lower, upper, n, certified)
    ban: object  # quality.selectors.BanRate
    queue: QueueState
    verdict: Verdict


@dataclass(frozen=True)
class OverviewPage:
    rows: list[OverviewRow]
    number: int
    num_pages: int
    count: int  # projects in all

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages


def overview_page_size() -> int:
    return int(getattr(settings, "CADRE_OVERVIEW_PAGE_SIZE", 50))


def projects_overview(*, now: datetime | None = None, page: int = 1, per_page: int | None = None) -> OverviewPage:
    """One page of the projects, newest first, with pace, accuracy claim, ban rate, queue and
    verdict. Grouped queries for the page's projects (pace, queue, ban rate) and the stored
    claims (``dashboards.claims``): the same number of queries for 3 or 30 projects on the page.
    ``page`` past the last one: ``ValueError`` (the view answers 400)."""
    now = now or timezone.now()
    per_page = per_page or overview_page_size()
    count = Project.objects.count()
    num_pages = max(1, -(-count // per_page))
    if page < 1 or page > num_pages:
        raise ValueError(f"page must be between 1 and {num_pages}")
    projects = list(Project.objects.select_related("organization").order_by("-created_at", "-id")
                    [(page - 1) * per_page:page * per_page])
    ids = [p.pk for p in projects]
    paces = projects_pace(project_ids=ids, now=now)
    queues = projects_queue(project_ids=ids, now=now)
    bans = quality_selectors.projects_ban_rate(project_ids=ids)
    claims = overview_claims(projects=projects, now=now)
    rows = []
    for project in projects:
        pace, claim, ban, queue = paces[project.pk], claims[project.pk], bans[project.pk], queues[project.pk]
        rows.append(OverviewRow(project, pace, claim, ban, queue,
                                project_verdict(project=project, pace=pace, claim=claim, ban=ban, queue=queue)))
    return OverviewPage(rows=rows, number=page, num_pages=num_pages, count=count)
