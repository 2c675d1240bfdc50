"""Chart specs: the data of one chart *and* the table behind it, in the shape
``dashboards/static/dashboards/charts.js`` draws (documented there):

    {"id", "title", "columns": [{"key", "label"}], "rows": [[...], ...],
     "traces": [{"type", "name", "x": <column key>, "y": <column key>, ...}], "layout": {...}}

The same spec is embedded in the page (``json_script``), served as JSON for the auto-refresh and
as CSV, so the chart, its table and its CSV always show the same numbers."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from tasks_app.models import Answer, Item, Project

from .accuracy import accuracy_history

HOURS = 24


def answers_per_hour(*, project: Project, now: datetime | None = None, hours: int = HOURS) -> dict[str, Any]:
    """Answers, known checks and items decided in each of the last ``hours`` whole UTC hours
    (the current hour included, so it grows while the page refreshes); empty hours are 0."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    answers = {
        r["hour"]: r for r in Answer.objects.filter(project=project, created_at__gte=start)
        .annotate(hour=TruncHour("created_at")).values("hour")
        .annotate(answers=Count("id"), checks=Count("id", filter=Q(is_check=True))).order_by()
    }
    decided = dict(
        Item.objects.filter(project=project, is_known=False, decided_at__gte=start,
                            status__in=[Item.Status.ACCEPTED, Item.Status.EXHAUSTED])
        .annotate(hour=TruncHour("decided_at")).values("hour").annotate(n=Count("id")).values_list("hour", "n").order_by()
    )
    rows = []
    for i in range(hours):
        hour = start + timedelta(hours=i)
        a = answers.get(hour, {})
        rows.append([hour.strftime("%Y-%m-%d %H:00"), a.get("answers", 0), a.get("checks", 0), decided.get(hour, 0)])
    return {
        "id": "answers-per-hour",
        "title": f"Answers per hour (last {hours} h, UTC)",
        "columns": [{"key": "hour", "label": "Hour (UTC)"}, {"key": "answers", "label": "Answers"},
                    {"key": "checks", "label": "Known checks"}, {"key": "decided", "label": "Items decided"}],
        "rows": rows,
        "traces": [
            {"type": "bar", "name": "Answers", "x": "hour", "y": "answers"},
            {"type": "bar", "name": "Known checks", "x": "hour", "y": "checks"},
            {"type": "scatter", "mode": "lines+markers", "name": "Items decided", "x": "hour", "y": "decided"},
        ],
        "layout": {"barmode": "overlay", "yaxis": {"title": {"text": "per hour"}, "rangemode": "tozero"}},
    }


def accuracy_over_time(*, project: Project, now: datetime | None = None) -> dict[str, Any]:
    """Each delivery batch's certified estimate with its one-sided bounds, then the engine's
    estimate now; the target as a line."""
    rows = []
    for p in accuracy_history(project=project, now=now):
        rows.append([
            p.when.strftime("%Y-%m-%d %H:%M:%S"), p.source, round(p.estimate, 4),
            None if p.lower is None else round(p.lower, 4), None if p.upper is None else round(p.upper, 4),
            p.n, "yes" if p.certified else "no", project.accuracy_target,
        ])
    pct = round(project.confidence * 100)
    return {
        "id": "accuracy-over-time",
        "title": "Accuracy over time (delivery certificates, then the engine's estimate now)",
        "columns": [{"key": "when", "label": "When (UTC)"}, {"key": "source", "label": "Source"},
                    {"key": "estimate", "label": "Estimate"}, {"key": "lower", "label": f"Lower ({pct}% one-sided)"},
                    {"key": "upper", "label": f"Upper ({pct}% one-sided)"}, {"key": "n", "label": "Sample size"},
                    {"key": "certified", "label": "Certified"}, {"key": "target", "label": "Target"}],
        "rows": rows,
        "traces": [
            {"type": "scatter", "mode": "lines+markers", "name": "Estimate", "x": "when", "y": "estimate",
             "text": "source", "error_y": {"lower": "lower", "upper": "upper"}},
            {"type": "scatter", "mode": "lines", "name": "Target", "x": "when", "y": "target",
             "line": {"dash": "dash"}},
        ],
        "layout": {"yaxis": {"title": {"text": "accuracy"}, "range": [0, 1.02]}},
    }


CHARTS: dict[str, Callable[..., dict[str, Any]]] = {
    "answers-per-hour": answers_per_hour,
    "accuracy-over-time": accuracy_over_time,
}
