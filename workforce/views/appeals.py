"""Appeals: the annotator's appeal page on a project, the ops list and decision page."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import AppealDecisionForm, AppealForm
from ..models import Appeal
from ..services.appeals import APPEALABLE
from .common import _membership
from .staff import staff_required


def _add_errors(form, exc: ValidationError) -> None:
    for field, msgs in exc.message_dict.items():
        for msg in msgs:
            form.add_error(field if field in form.fields else None, msg)


@login_required
@require_http_methods(["GET", "POST"])
def appeal(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = _membership(request, project_id)
    form = AppealForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.appeal_open(membership=membership, text=form.cleaned_data["text"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Your appeal was sent. Ops will review it; the outcome will show here.")
            return redirect("workforce:appeal", project_id=membership.project.pk)
    appeals = list(membership.appeals.order_by("-created_at", "-id"))
    return render(request, "workforce/appeal.html", {
        "project": membership.project,
        "membership": membership,
        "form": form,
        "appeals": appeals,
        "open_appeal": next((a for a in appeals if a.status == Appeal.Status.OPEN), None),
        "can_appeal": membership.standing in APPEALABLE,
        "history": list(membership.standing_history.all()),
    })


@staff_required
def ops_appeals(request: HttpRequest) -> HttpResponse:
    base = Appeal.objects.select_related("membership__annotator", "membership__project", "decided_by")
    open_appeals = list(base.filter(status=Appeal.Status.OPEN).order_by("created_at", "id"))
    decided = Paginator(base.exclude(status=Appeal.Status.OPEN).order_by("-decided_at", "-id"), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "workforce/ops_appeals.html", {"open_appeals": open_appeals, "decided": decided})


@staff_required
@require_http_methods(["GET", "POST"])
def ops_appeal(request: HttpRequest, appeal_id: int) -> HttpResponse:
    a = get_object_or_404(
        Appeal.objects.select_related("membership__annotator", "membership__project", "decided_by"), pk=appeal_id
    )
    form = AppealDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.appeal_decide(
                appeal=a, decision=form.cleaned_data["decision"], decided_by=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Decision recorded; the annotator sees it on their appeal page.")
            return redirect("workforce:ops_appeals")
    history = list(a.membership.standing_history.select_related("actor"))
    earlier = list(a.membership.appeals.exclude(pk=a.pk).order_by("-created_at"))
    return render(request, "workforce/ops_appeal.html", {"appeal": a, "membership": a.membership, "form": form,
                                                         "history": history, "earlier": earlier})
