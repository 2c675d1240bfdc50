"""The annotator's project list and one project's page."""
from __future__ import annotations


from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


from .. import selectors
from .common import _membership


# --- projects -------------------------------------------------------------------------------

@login_required
def home(request: HttpRequest) -> HttpResponse:
    cards = selectors.projects_open(annotator=request.user)
    return render(request, "workforce/home.html", {"cards": cards})


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = _membership(request, project_id)
    project = membership.project
    return render(
        request,
        "workforce/project.html",
        {
            "project": project,
            "membership": membership,
            "qualifier": selectors.qualifier_state(membership=membership),
            "last_attempt": selectors.qualifier_last_attempt(membership=membership),
            "tutorial_count": len(selectors.tutorial_examples(project=project)),
        },
    )
