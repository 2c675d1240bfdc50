"""Ops: how often annotators skip tasks, per project and reason (issue 6 workbench)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tasks_app import selectors as task_selectors

from .staff import staff_required


@staff_required
@require_GET
def ops_skips(request: HttpRequest) -> HttpResponse:
    return render(request, "workforce/ops/skips.html", {
        "counts": task_selectors.skip_counts(), "notes": task_selectors.skip_notes_recent(),
    })
