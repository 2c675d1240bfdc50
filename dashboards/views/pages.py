"""Ops dashboards (staff only): all projects at a glance, one page per project, and each
chart's data as JSON (auto-refresh) and CSV. Views are thin: the selectors compute."""
from __future__ import annotations

import csv
import os

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from quality import selectors as quality_selectors
from quality.models import Audit
from tasks_app.models import Project
from workforce.models import Appeal, Membership
from workforce.views.staff import staff_required

from ..analysis.suspects import last_run as last_suspect_run
from ..claims import claim_ttl
from ..selectors import annotators as ann
from ..selectors.charts import CHARTS
from ..selectors.known import known_health
from ..selectors.pace import project_pace, project_verdict, projects_overview
from ..selectors.queues import celery_queue_length, project_queue


def refresh_seconds() -> int:
    """How often the charts poll their JSON endpoint (``CADRE_DASHBOARD_REFRESH_SECONDS``, 0 = never)."""
    return int(getattr(settings, "CADRE_DASHBOARD_REFRESH_SECONDS", os.environ.get("CADRE_DASHBOARD_REFRESH_SECONDS", "30")))


@staff_required
@require_GET
def overview(request):
    """One page of the projects (``?page=``, ``CADRE_OVERVIEW_PAGE_SIZE`` a page); a page that is
    not a number or not there: 400 naming the field."""
    raw = request.GET.get("page", "1")
    try:
        page = projects_overview(page=int(raw))
    except ValueError as exc:
        detail = str(exc) if raw.strip().lstrip("-").isdigit() else "page must be a whole number"
        return HttpResponse(f"page: {detail}\n", status=400, content_type="text/plain; charset=utf-8")
    return render(request, "dashboards/overview.html", {
        "page": page, "rows": page.rows, "celery_queue": celery_queue_length(), "nav": "overview",
        "claim_minutes": int(claim_ttl().total_seconds() // 60),
    })


COLUMN_LABELS = {"username": "Annotator", "stage": "Stage", "standing": "Standing", "accuracy": "Accuracy",
                 "lower": "Interval", "checks": "Checks", "answers": "Answers", "flags": "Flags", "hourly": "Hourly rate"}


def _sort_links(params, query: ann.AnnotatorQuery) -> list[dict]:
    """Header links: the same filters, sorted by that column; clicking the current column flips it."""
    links = []
    for key in ann.SORT_KEYS:
        q = params.copy()
        current = query.sort == key
        q["sort"] = f"-{key}" if current and not query.descending else key
        links.append({"key": key, "label": COLUMN_LABELS[key], "href": f"?{q.urlencode()}#annotators",
                      "current": ("descending" if query.descending else "ascending") if current else ""})
    return links


def _project(pk: int) -> Project:
    return get_object_or_404(Project.objects.select_related("organization"), pk=pk)


@staff_required
@require_GET
def project(request, project_pk):
    project = _project(project_pk)
    query, errors = ann.AnnotatorQuery.from_params(request.GET)
    pace = project_pace(project=project)
    claim = quality_selectors.project_claim(project=project).claim
    ban = quality_selectors.project_ban_rate(project=project)
    queue = project_queue(project=project)
    charts = [CHARTS[name](project=project) for name in ("answers-per-hour", "accuracy-over-time")]
    return render(request, "dashboards/project.html", {
        "project": project, "pace": pace, "claim": claim, "ban": ban, "queue": queue,
        "verdict": project_verdict(project=project, pace=pace, claim=claim, ban=ban, queue=queue),
        "celery_queue": celery_queue_length(), "charts": charts, "refresh": refresh_seconds(),
        "annotators": ann.annotator_table(project=project, query=query), "query": query, "errors": errors,
        "sort_links": _sort_links(request.GET, query), "standings": Membership.Standing.choices, "stages": Membership.Stage.choices,
        "decisions": quality_selectors.project_decisions(project=project, limit=30),
        "known": known_health(project=project),
        "expert_queue": len(quality_selectors.expert_queue(project=project)),
        "open_flags": len(quality_selectors.known_flags(project=project, open_only=True)),
        "open_appeals": Appeal.objects.filter(membership__project=project, status=Appeal.Status.OPEN).count(),
        "audits": Audit.objects.filter(project=project).select_related("batch").order_by("-created_at")[:10],
        "last_suspect_run": last_suspect_run(project=project), "nav": "project",
    }, status=400 if errors else 200)


def _chart(project_pk: int, chart: str) -> dict:
    if chart not in CHARTS:
        raise Http404("No such chart.")
    return CHARTS[chart](project=_project(project_pk))


@staff_required
@require_GET
def chart_json(request, project_pk, chart):
    return JsonResponse(_chart(project_pk, chart))


@staff_required
@require_GET
def chart_csv(request, project_pk, chart):
    spec = _chart(project_pk, chart)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="project-{project_pk}-{chart}.csv"'
    writer = csv.writer(response)
    writer.writerow([c["label"] for c in spec["columns"]])
    writer.writerows([["" if v is None else v for v in row] for row in spec["rows"]])
    return response
