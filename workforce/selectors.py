"""Reads for the annotator web app (workforce views). No writes here: see services.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from tasks_app import task_types
from tasks_app.models import Example, Project

from .models import Membership, QualifierAttempt


@dataclass(frozen=True)
class ProjectCard:
    project: Project
    membership: Membership | None


def projects_open(*, annotator) -> list[ProjectCard]:
    """Live projects open to the annotator (active account, in the project's audience, invited
    where the project is invite-only), each with the annotator's membership, or None."""
    from .services.audience import projects_for

    projects = list(Project.objects.filter(status=Project.Status.LIVE).order_by("-launched_at", "-id"))
    projects = projects_for(annotator=annotator, projects=projects)  # active, in the audience, invited
    members = {
        m.project_id: m
        for m in Membership.objects.filter(annotator=annotator, project_id__in=[p.pk for p in projects]).select_related("project")
    }
    return [ProjectCard(project=p, membership=members.get(p.pk)) for p in projects]


def project_live(*, project_id: int) -> Project | None:
    return Project.objects.filter(pk=project_id, status=Project.Status.LIVE).first()


def tutorial_examples(*, project: Project) -> list[Example]:
    return list(Example.objects.filter(project=project, role=Example.Role.TUTORIAL).order_by("position", "id"))


def qualifier_examples(*, project: Project) -> list[Example]:
    return list(Example.objects.filter(project=project, role=Example.Role.QUALIFIER).order_by("position", "id"))


def qualifier_attempt(*, membership: Membership, number: int) -> QualifierAttempt | None:
    return QualifierAttempt.objects.filter(membership=membership, number=number, submitted_at__isnull=False).first()


def qualifier_last_attempt(*, membership: Membership) -> QualifierAttempt | None:
    return (
        QualifierAttempt.objects.filter(membership=membership, submitted_at__isnull=False).order_by("-number").first()
    )


@dataclass(frozen=True)
class ReviewRow:
    number: int
    example: Example
    chosen: str | None  # the answer as read for people (tasks_app.task_types.describe)
    correct: bool
    right: str = ""  # the correct answer as read for people


def qualifier_review(*, attempt: QualifierAttempt) -> list[ReviewRow]:
    """Per-question review of a graded attempt: the question, the annotator's answer, the
    correct answer and its explanation (shown only after grading)."""
    if attempt.example_ids:  # the sitting's own draw (issue 3B); older attempts asked the whole bank
        by_id = Example.objects.in_bulk(attempt.example_ids)
        questions = [by_id[i] for i in attempt.example_ids if i in by_id]
    else:
        questions = qualifier_examples(project=attempt.membership.project)
    project = attempt.membership.project
    t, config = project.task_type, project.type_config
    rows = []
    for i, ex in enumerate(questions, start=1):
        chosen, correct = task_types.response_review(
            t, config, project.labels, attempt.responses.get(str(ex.pk)), ex.label, ex.value
        )
        rows.append(ReviewRow(number=i, example=ex, chosen=chosen, correct=correct, right=task_types.describe(t, ex.label, ex.value)))
    return rows


@dataclass(frozen=True)
class QualifierState:
    """Whether the annotator may sit the qualifier now, and if not, why (the service is
    still what enforces it on submit)."""

    can_sit: bool
    reason: str
    attempts_used: int
    attempts_left: int
    next_attempt_at: datetime | None


def qualifier_state(*, membership: Membership, now: datetime | None = None) -> QualifierState:
    now = now or timezone.now()
    project = membership.project
    used = membership.qualifier_attempts
    left = max(0, project.qualifier_max_attempts - used)
    waiting = membership.next_attempt_at if membership.next_attempt_at and membership.next_attempt_at > now else None
    if membership.stage == Membership.Stage.WORKING:
        return QualifierState(False, "You have already qualified for this project.", used, left, None)
    if membership.stage == Membership.Stage.FAILED or left == 0:
        return QualifierState(False, "You have used all your qualifier attempts on this project.", used, 0, None)
    if membership.tutorial_completed_at is None:
        return QualifierState(False, "Go through the tutorial first; the qualifier opens after it.", used, left, None)
    if waiting:
        return QualifierState(False, "Your next qualifier attempt is not open yet.", used, left, waiting)
    return QualifierState(True, "", used, left, None)


# =============================================================================================
# Issue 3a: vetting, profiles, surveys, audience estimate (reads).
# =============================================================================================

SUPPRESS_BELOW = 5  # customers never see a group of fewer people than this
ACTIVITY_DAYS = 28  # window of past activity behind the capacity estimate


def profile_of(*, annotator):
    from .models import AnnotatorProfile

    return AnnotatorProfile.objects.filter(user=annotator).first()


def attributes_current(*, annotator) -> dict:
    from .models import AttributeValue

    return {a.key: a for a in AttributeValue.objects.filter(annotator=annotator, is_current=True).order_by("key")}


def status_history(*, annotator) -> list:
    from .models import StatusChange

    return list(StatusChange.objects.filter(annotator=annotator).select_related("actor").order_by("created_at", "id"))


def surveys_for(*, annotator) -> list[dict]:
    from .models import Survey, SurveyCompletion

    done = {c.survey_id: c for c in SurveyCompletion.objects.filter(annotator=annotator)}
    return [{"survey": s, "completion": done.get(s.pk)}
            for s in Survey.objects.filter(Q(is_open=True) | Q(pk__in=list(done))).order_by("-created_at", "-id")]


def vetting_queue() -> list:
    """Annotators still in vetting, oldest first, with what each is missing."""
    from .models import AnnotatorProfile
    from .services.vetting import vetting_missing

    rows = AnnotatorProfile.objects.filter(status__in=["applicant", "vetted"]).select_related("user").order_by("created_at")
    return [{"profile": p, "missing": vetting_missing(p)} for p in rows]


def flags_open() -> list:
    from .models import ProfileFlag

    return list(ProfileFlag.objects.filter(resolved_at__isnull=True).select_related("annotator").order_by("created_at"))


def _suppressed_counts(counts: dict[str, int]) -> dict[str, int]:
    """Groups of at least SUPPRESS_BELOW; the rest merged into "other", which itself is shown
    only when it has SUPPRESS_BELOW people or more (else the smallest shown groups join it, so
    no small group can be worked out by subtraction from the total)."""
    shown = {k: v for k, v in counts.items() if v >= SUPPRESS_BELOW}
    other = sum(v for k, v in counts.items() if v < SUPPRESS_BELOW)
    while 0 < other < SUPPRESS_BELOW and shown:
        k = min(shown, key=lambda key: (shown[key], key))
        other += shown.pop(k)
    if 0 < other < SUPPRESS_BELOW:
        return {}
    if other:
        shown["other"] = other
    return dict(sorted(shown.items(), key=lambda kv: (-kv[1], kv[0])))


def audience_estimate(*, project: Project, answers_per_day: int | None = None, now: datetime | None = None) -> dict:
    """What a customer may know about a project's audience before launch: how many annotators
    are eligible, aggregate breakdowns (no group under SUPPRESS_BELOW), and whether their past
    activity covers the answers per day the project needs.

    Capacity: the eligible pool's answers (every project) per calendar day over the last
    ACTIVITY_DAYS days: the mean, and the 10th percentile of those days as a low figure.
    It assumes the pool would give this project the time it gave all projects together; quotas
    lower it to what their groups can supply (``notes`` says which)."""
    import statistics
    from collections import Counter
    from datetime import timedelta

    from django.db.models.functions import TruncDate

    from tasks_app.models import Answer

    from . import attributes
    from .models import Audience
    from .services import audience as audience_service

    now = now or timezone.now()
    audience = Audience.objects.filter(project=project).first()
    needed = answers_per_day if answers_per_day is not None else (audience.answers_per_day if audience else None)
    rules = audience.rules if audience else {}
    pool = audience_service.people()
    eligible = [p for p in pool.values() if audience_service.matches(rules, p, now.date())]
    n = len(eligible)
    out = {
        "rules": rules, "quotas": audience.quotas if audience else [], "invite_only": bool(audience and audience.invite_only),
        "answers_per_day_needed": needed, "activity_days": ACTIVITY_DAYS, "suppressed_below": SUPPRESS_BELOW,
        "active_annotators": len(pool) if len(pool) >= SUPPRESS_BELOW else None,
        "eligible": n if n >= SUPPRESS_BELOW else None,
        "eligible_fewer_than_suppression": n < SUPPRESS_BELOW,
        "breakdown": {}, "answers_per_active_day": None, "capacity_per_day": None, "capacity_per_day_low": None,
        "can_deliver": None, "shortfall_per_day": None, "notes": [],
    }
    if n < SUPPRESS_BELOW:
        out["can_deliver"] = False if needed else None
        return out
    today = now.date()
    for key in ("gender", "country", "education", "device"):
        counts: Counter = Counter()
        for p in eligible:
            got = p.attrs.get(key)
            for v in (got[0] if got and isinstance(got[0], list) else [got[0]] if got else ["unknown"]):
                counts[str(v)] += 1
        out["breakdown"][key] = _suppressed_counts(dict(counts))
    bands: Counter = Counter()
    for p in eligible:
        got = p.attrs.get("age")
        if got is None:
            bands["unknown"] += 1
        else:
            age = attributes.age_now(got[0], got[1], today)
            lo = 16 if age < 25 else (age // 10) * 10 if age < 65 else 65
            bands[f"{lo}-24" if lo == 16 else "65+" if lo == 65 else f"{lo}-{lo + 9}"] += 1
    out["breakdown"]["age"] = _suppressed_counts(dict(bands))
    today_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today_start - timedelta(days=ACTIVITY_DAYS)  # the last ACTIVITY_DAYS whole days
    daily = (Answer.objects.filter(annotator_id__in=[p.user_id for p in eligible], created_at__gte=since,
                                   created_at__lt=today_start)
             .annotate(day=TruncDate("created_at")).values("day", "annotator_id").annotate(k=Count("id")))
    per_day: Counter = Counter()
    per_person: Counter = Counter()
    person_days = 0
    for row in daily:
        per_day[row["day"]] += row["k"]
        per_person[row["annotator_id"]] += row["k"]
        person_days += 1
    totals = [per_day.get((today_start - timedelta(days=i)).date(), 0) for i in range(1, ACTIVITY_DAYS + 1)]
    total = sum(per_day.values())
    out["answers_per_active_day"] = round(total / person_days, 1) if person_days else None
    capacity = statistics.fmean(totals)
    out["capacity_per_day_low"] = float(sorted(totals)[len(totals) // 10])
    # Quotas bound what the pool can deliver: with "at least s from group G", at most
    # capacity(G) / s answers a day; with "at most s from G", at most capacity(not G) / (1 - s).
    notes = []
    for q in out["quotas"]:
        members = [p for p in eligible if audience_service.in_values(p, q["attribute"], q["values"])]
        group = sum(per_person[p.user_id] for p in members) / ACTIVITY_DAYS
        if 0 < len(members) < SUPPRESS_BELOW or (len(eligible) - len(members)) in range(1, SUPPRESS_BELOW):
            notes.append(f"quota on {q['attribute']}: a group has fewer than {SUPPRESS_BELOW} eligible annotators")
        if q.get("min_share"):
            bound = group / q["min_share"]
            if bound < capacity:
                capacity = bound
                notes.append(f"capacity limited by the quota on {q['attribute']} (min_share {q['min_share']})")
        if q.get("max_share") is not None and q["max_share"] < 1:
            bound = (total / ACTIVITY_DAYS - group) / (1 - q["max_share"])
            if bound < capacity:
                capacity = bound
                notes.append(f"capacity limited by the quota on {q['attribute']} (max_share {q['max_share']})")
    out["notes"] = notes
    out["capacity_per_day"] = round(capacity, 1)
    if needed:
        out["can_deliver"] = out["capacity_per_day"] >= needed
        out["shortfall_per_day"] = max(0.0, round(needed - out["capacity_per_day"], 1))
    return out
