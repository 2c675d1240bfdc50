"""Helpers shared by the annotator pages."""
from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest

from tasks_app.models import Project

from .. import selectors, services
from ..services import audience
from ..models import Membership


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


def _message_errors(request: HttpRequest, exc: ValidationError) -> None:
    for msg in _errors(exc):
        messages.error(request, msg)


def _live_project(project_id: int) -> Project:
    project = selectors.project_live(project_id=project_id)
    if project is None:
        raise Http404("No such open project.")
    return project


def _membership(request: HttpRequest, project_id: int) -> Membership:
    if not hasattr(request.user, "annotator"):  # customers, ops: no joining, no answering
        raise PermissionDenied("These pages are for annotator accounts.")
    project = _live_project(project_id)
    if not audience.project_visible(annotator=request.user, project=project):  # vetting + audience (issue 3a)
        raise Http404("No such open project.")
    try:
        membership = services.membership_join(project=project, annotator=request.user)
    except ValidationError:
        raise Http404("No such open project.") from None
    membership.project = project
    membership.annotator = request.user  # the user the request already loaded: one query fewer
    # qualified on a spec version the customer has since changed materially: back to the qualifier
    return services.membership_requalify(membership=membership) if membership.requalification_due else membership


def _content(data) -> dict:
    """What to show of an item's or example's data: its text, else the JSON (escaped by the
    template). Depends on ``data`` alone, never on what kind of item it came from."""
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        return {"text": data["text"], "json": None}
    return {"text": None, "json": json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)}


def _label_keys(labels: list[str]) -> list[dict]:
    return [{"value": lab, "key": str(i) if i <= 9 else "", "index": i} for i, lab in enumerate(labels, start=1)]
