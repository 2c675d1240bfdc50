"""Reads for pay: an annotator's earnings, effective hourly rates, low-pay projects, payouts.

**Time on task** of an answer is ``Answer.signals["visible_ms"]`` when the task page
reported it (time the page was visible: a tab left in the background is not work), capped
at ``Answer.duration_ms`` (time from showing the task to submitting it); else
``duration_ms``; answers with neither are left out of rates (both their time and their pay).
The **effective hourly rate** is the pay earned on *settled* answers (checks that were
scored; items accepted or closed uncertain at the cap) divided by their time on task:
wrong answers and answers on items that never got accepted count as time, not as pay.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from tasks_app.models import Answer, Item, Project

from .models import Earning, PayoutBatch, ProjectPay

MS_PER_HOUR = Decimal(3_600_000)


def time_on_task_ms(duration_ms, visible_ms) -> int | None:
    visible = visible_ms if isinstance(visible_ms, (int, float)) and not isinstance(visible_ms, bool) else None
    if visible is not None and visible < 0:
        visible = None
    if visible is not None:
        return int(min(visible, duration_ms)) if duration_ms is not None else int(visible)
    return duration_ms


class _Hourly:
    """Hours and effective hourly pay of rows carrying ``ms`` (time on task) and ``pay``."""

    ms: int
    pay: Decimal

    @property
    def hours(self) -> float:
        return self.ms / 3_600_000

    @property
    def hourly(self) -> Decimal | None:
        return (self.pay * MS_PER_HOUR / self.ms).quantize(Decimal("0.01")) if self.ms > 0 else None


@dataclass
class Rate(_Hourly):
    annotator_id: int
    project_id: int
    answers: int = 0  # settled answers with a time on task
    ms: int = 0
    pay: Decimal = Decimal(0)
    currency: str = ""
    username: str = ""


def settled_answers():
    return Answer.objects.filter(
        Q(is_check=True, correct__isnull=False)
        | Q(is_check=False, item__status__in=[Item.Status.ACCEPTED, Item.Status.EXHAUSTED])
    )


_RATES_SQL = """
SELECT a.annotator_id, a.project_id, COUNT(*), SUM(t.ms), COALESCE(SUM(e.amount), 0), MAX(e.currency)
FROM tasks_app_answer a
JOIN tasks_app_item i ON i.id = a.item_id
CROSS JOIN LATERAL (SELECT CASE
    WHEN jsonb_typeof(a.signals -> 'visible_ms') = 'number' AND (a.signals ->> 'visible_ms')::numeric >= 0 THEN
        CASE WHEN a.duration_ms IS NULL THEN floor((a.signals ->> 'visible_ms')::numeric)
             ELSE LEAST(floor((a.signals ->> 'visible_ms')::numeric), a.duration_ms) END
    ELSE a.duration_ms END AS ms) t
LEFT JOIN workforce_earning e ON e.kind = 'answer' AND e.source_key = a.id::text
WHERE ((a.is_check AND a.correct IS NOT NULL) OR (NOT a.is_check AND i.status IN ('accepted', 'exhausted')))
  AND t.ms IS NOT NULL {filters}
GROUP BY a.annotator_id, a.project_id
"""


def hourly_rates(*, project_ids: list[int] | None = None, annotator=None) -> dict[tuple[int, int], Rate]:
    """Effective hourly rate per (annotator id, project id): one aggregate query on
    PostgreSQL; elsewhere (the embedded SQLite run) the same rule in Python."""
    if connection.vendor != "postgresql":
        return _hourly_rates_python(project_ids=project_ids, annotator=annotator)
    filters, params = "", []
    if project_ids is not None:
        filters += " AND a.project_id = ANY(%s)"
        params.append(list(project_ids))
    if annotator is not None:
        filters += " AND a.annotator_id = %s"
        params.append(annotator.pk)
    out: dict[tuple[int, int], Rate] = {}
    with connection.cursor() as cursor:
        cursor.execute(_RATES_SQL.format(filters=filters), params)
        for annotator_id, project_id, n, ms, pay, currency in cursor.fetchall():
            out[(annotator_id, project_id)] = Rate(annotator_id, project_id, answers=n, ms=int(ms), pay=Decimal(pay),
                                                   currency=currency or "")
    return out


def _hourly_rates_python(*, project_ids: list[int] | None = None, annotator=None) -> dict[tuple[int, int], Rate]:
    answers = settled_answers()
    paid = Earning.objects.filter(kind=Earning.Kind.ANSWER)
    if project_ids is not None:
        answers, paid = answers.filter(project_id__in=project_ids), paid.filter(project_id__in=project_ids)
    if annotator is not None:
        answers, paid = answers.filter(annotator=annotator), paid.filter(annotator=annotator)
    amounts = {key: (amount, cur) for key, amount, cur in paid.values_list("source_key", "amount", "currency").iterator()}
    out: dict[tuple[int, int], Rate] = {}
    rows = answers.values_list("id", "annotator_id", "project_id", "duration_ms", "signals__visible_ms")
    for answer_id, annotator_id, project_id, duration_ms, visible_ms in rows.iterator(chunk_size=5000):
        ms = time_on_task_ms(duration_ms, visible_ms)
        if ms is None:
            continue
        r = out.get((annotator_id, project_id))
        if r is None:
            r = out[(annotator_id, project_id)] = Rate(annotator_id, project_id)
        r.answers += 1
        r.ms += ms
        amount = amounts.get(str(answer_id))
        if amount is not None:
            r.pay += amount[0]
            r.currency = amount[1]
    return out


@dataclass
class ProjectPayRow(_Hourly):
    project: Project
    per_answer: Decimal
    currency: str
    answers: int = 0
    ms: int = 0
    pay: Decimal = Decimal(0)
    annotators: int = 0
    annotators_below: int = 0
    enough_data: bool = False
    compared: bool = True  # same currency as the minimum
    flagged: bool = False
    rates: list = field(default_factory=list)


def min_hourly_rate() -> Decimal:
    return Decimal(str(settings.CADRE_MIN_HOURLY_RATE))


def projects_pay_overview(*, statuses=(Project.Status.LIVE, Project.Status.COMPLETE)) -> list[ProjectPayRow]:
    """Every project's rate and its effective hourly rate over all its annotators; flagged
    when it has at least ``CADRE_MIN_RATE_ANSWERS`` timed settled answers and pays below
    ``CADRE_MIN_HOURLY_RATE`` (flagged projects first)."""
    projects = list(Project.objects.filter(status__in=statuses).select_related("organization").order_by("-id"))
    pays = {p.project_id: p for p in ProjectPay.objects.filter(project__in=projects)}
    rates = hourly_rates(project_ids=[p.pk for p in projects])
    minimum, currency = min_hourly_rate(), settings.CADRE_PAY_CURRENCY
    rows = []
    for p in projects:
        pay = pays.get(p.pk)
        row = ProjectPayRow(
            project=p,
            per_answer=pay.per_answer if pay else Decimal(str(settings.CADRE_PAY_PER_ANSWER)),
            currency=pay.currency if pay else currency,
        )
        for r in (r for (a, pid), r in rates.items() if pid == p.pk):
            row.rates.append(r)
            row.answers += r.answers
            row.ms += r.ms
            row.pay += r.pay
            row.annotators += 1
            if r.hourly is not None and r.hourly < minimum:
                row.annotators_below += 1
        row.compared = row.currency == currency
        row.enough_data = row.answers >= settings.CADRE_MIN_RATE_ANSWERS
        row.flagged = bool(row.compared and row.enough_data and row.hourly is not None and row.hourly < minimum)
        rows.append(row)
    names = dict(
        get_user_model().objects.filter(pk__in={a for a, _ in rates}).values_list("pk", "username")
    )
    for row in rows:  # per annotator, lowest rate first (who is paid least on this project)
        row.rates.sort(key=lambda r: (r.hourly is None, r.hourly or 0))
        for r in row.rates:
            r.username = names.get(r.annotator_id, "")
    rows.sort(key=lambda r: (not r.flagged, -r.project.pk))
    return rows


# --- an annotator's earnings ------------------------------------------------------------------

def earnings_of(*, annotator):
    return Earning.objects.filter(annotator=annotator).select_related("project").order_by("-created_at", "-id")


def earnings_totals(*, annotator) -> dict:
    qs = Earning.objects.filter(annotator=annotator)
    by_currency = list(
        qs.values("currency").annotate(total=Sum("amount"), paid=Sum("amount", filter=Q(payout__isnull=False)), n=Count("id"))
        .order_by("currency")
    )
    by_project = list(
        qs.values("project_id", "project__name", "kind", "currency").annotate(total=Sum("amount"), n=Count("id"))
        .order_by("project__name", "kind", "currency")
    )
    by_week = list(
        qs.annotate(week=TruncWeek("created_at")).values("week", "currency").annotate(total=Sum("amount"), n=Count("id"))
        .order_by("-week", "currency")[:26]
    )
    rates = hourly_rates(annotator=annotator)
    names = dict(Project.objects.filter(pk__in=[pid for _, pid in rates]).values_list("pk", "name"))
    hourly = sorted(
        ({"project": names.get(pid, ""), "rate": r} for (_, pid), r in rates.items()), key=lambda x: x["project"]
    )
    return {"by_currency": by_currency, "by_project": by_project, "by_week": by_week, "hourly": hourly}


# --- payouts ----------------------------------------------------------------------------------

def payout_batches():
    return PayoutBatch.objects.select_related("created_by").order_by("-period_end", "-id")


def payout_rows(*, batch: PayoutBatch):
    """One row per annotator and currency of a batch (streamed by the CSV export)."""
    return (
        Earning.objects.filter(payout=batch)
        .values("annotator_id", "annotator__username", "annotator__email", "currency")
        .annotate(entries=Count("id"), amount=Sum("amount"))
        .order_by("annotator__username", "currency")
        .iterator(chunk_size=2000)
    )


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def workbench_progress(*, annotator, project_id: int, since=None) -> dict:
    """The workbench's progress line: answers on this project today (UTC) and since ``since``
    (the browser tab's session start, when given and within the last 24 hours), and today's
    earnings from the pay ledger by currency (every project: the ledger is what gets paid).
    Two queries."""
    now = timezone.now()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if since is not None and not now - dt.timedelta(hours=24) <= since <= now:
        since = None
    session_start = since if since is not None else day
    counts = Answer.objects.filter(annotator=annotator, project_id=project_id, created_at__gte=min(day, session_start)).aggregate(
        today=Count("id", filter=Q(created_at__gte=day)), session=Count("id", filter=Q(created_at__gte=session_start))
    )
    earned = (
        Earning.objects.filter(annotator=annotator, created_at__gte=day)
        .values("currency").annotate(total=Sum("amount")).order_by("currency")
    )
    return {
        "answers_today": counts["today"],
        "answers_session": counts["session"] if since is not None else None,
        "earnings_today": [{"currency": r["currency"], "amount": f"{r['total']:.2f}"} for r in earned],
    }
