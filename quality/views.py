"""Ops pages (staff only): project list with progress, and one page per project with
throughput, the accuracy claim with its interval, annotators by standing, gating decisions."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from tasks_app.models import Project
from workforce.models import Membership

from . import selectors

STANDING_ORDER = [Membership.Standing.REVOKED, Membership.Standing.WARNED, Membership.Standing.ACTIVE]


def staff_required(view):
    """Anonymous → login page; signed in but not staff → 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("Ops pages are for Cadre staff.")
        return view(request, *args, **kwargs)

    return wrapper


@staff_required
def index(request):
    projects = list(Project.objects.select_related("organization").order_by("-created_at", "-id"))
    rows = [{"project": p, "progress": selectors.project_progress(project=p)} for p in projects]
    return render(request, "quality/index.html", {"rows": rows})


@staff_required
def project_dashboard(request, project_pk):
    project = get_object_or_404(Project.objects.select_related("organization"), pk=project_pk)
    annotators = selectors.project_annotators(project=project)
    groups = [
        {"label": Membership.Standing(standing).label, "members": [
            a for a in annotators if a["standing"] == standing and (
                standing == Membership.Standing.REVOKED or a["stage"] == Membership.Stage.WORKING)
        ]}
        for standing in STANDING_ORDER
    ]
    groups.append({"label": "In onboarding (tutorial / qualifier)", "members": [
        a for a in annotators
        if a["stage"] in (Membership.Stage.TUTORIAL, Membership.Stage.QUALIFIER) and a["standing"] != Membership.Standing.REVOKED
    ]})
    groups.append({"label": "Did not qualify", "members": [
        a for a in annotators if a["stage"] == Membership.Stage.FAILED and a["standing"] != Membership.Standing.REVOKED
    ]})
    for group in groups:  # least accurate first: those are the ones to look at
        group["members"].sort(key=lambda a: (a["accuracy"] is None, a["accuracy"] or 0.0, a["username"]))
    return render(
        request,
        "quality/project.html",
        {
            "project": project,
            "progress": selectors.project_progress(project=project),
            "claim": selectors.project_claim(project=project).claim,
            "bar": selectors.project_bar(project),
            "throughput": selectors.project_throughput(project=project),
            "groups": groups,
            "decisions": selectors.project_decisions(project=project),
        },
    )
