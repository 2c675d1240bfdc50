"""Ops pages (staff only): project list with progress, and one page per project with
throughput, the accuracy claim with its interval, annotators by standing, gating decisions."""
from __future__ import annotations


from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from tasks_app.models import Project
from workforce.models import Membership
from workforce.views.staff import staff_required

from . import selectors, services

STANDING_ORDER = [
    Membership.Standing.REVOKED, Membership.Standing.PAUSED, Membership.Standing.WARNED, Membership.Standing.ACTIVE,
]




@staff_required
def index(request):
    projects = list(Project.objects.select_related("organization").order_by("-created_at", "-id"))
    rows = [
        {"project": p, "progress": selectors.project_progress(project=p), "ban": selectors.project_ban_rate(project=p)}
        for p in projects
    ]
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
            "ban": selectors.project_ban_rate(project=project),
            "queue_size": len(selectors.expert_queue(project=project)),
            "open_flags": len(selectors.known_flags(project=project, open_only=True)),
        },
    )


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{field}: {m}" for field, msgs in exc.message_dict.items() for m in msgs]
    return list(exc.messages)


@staff_required
@require_http_methods(["GET", "POST"])
def expert_queue(request, project_pk):
    """Items uncertain at the cap; a staff member's label resolves one (POST item, label)."""
    project = get_object_or_404(Project, pk=project_pk)
    errors: list[str] = []
    if request.method == "POST":
        try:
            item_id = int(request.POST.get("item", ""))
        except ValueError:
            errors = ["item: choose an item."]
        else:
            if not project.items.filter(pk=item_id).exists():
                errors = ["item: not an item of this project."]
            else:
                try:
                    services.item_expert_resolve(
                        item_id=item_id, expert=request.user, label=request.POST.get("label", ""),
                        note=request.POST.get("note", "")[:2000],
                    )
                    return redirect("ops:expert_queue", project_pk=project.pk)
                except ValidationError as exc:
                    errors = _errors(exc)
    status = 400 if errors else 200
    return render(
        request, "quality/expert_queue.html",
        {"project": project, "queue": selectors.expert_queue(project=project), "errors": errors,
         "resolved": project.expert_reviews.select_related("item", "expert")[:50]},
        status=status,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def known_flags(request, project_pk):
    """Known items whose key strong annotators disagree with; ops confirm, correct or keep."""
    project = get_object_or_404(Project, pk=project_pk)
    errors: list[str] = []
    if request.method == "POST":
        try:
            flag_id = int(request.POST.get("flag", ""))
        except ValueError:
            errors = ["flag: choose a flag."]
        else:
            if not project.known_flags.filter(pk=flag_id).exists():
                errors = ["flag: not a flag of this project."]
            else:
                try:
                    services.known_flag_resolve(
                        flag_id=flag_id, user=request.user, action=request.POST.get("action", ""),
                        new_label=request.POST.get("new_label") or None, note=request.POST.get("note", "")[:2000],
                    )
                    return redirect("ops:known_flags", project_pk=project.pk)
                except ValidationError as exc:
                    errors = _errors(exc)
    return render(
        request, "quality/known_flags.html",
        {"project": project, "flags": selectors.known_flags(project=project), "errors": errors},
        status=400 if errors else 200,
    )
