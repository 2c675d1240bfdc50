"""Quality's ops pages (staff only): the expert queue and the flagged answer keys. ``/ops/`` and
``/ops/projects/<id>/`` redirect to the dashboards app's overview and project page."""
from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from tasks_app import task_types
from tasks_app.models import Project
from workforce.views.common import _content
from workforce.views.staff import staff_required

from . import selectors, services


@staff_required
def index(request):
    """``/ops/`` is the dashboards' overview of all projects (issue 7). The link is by URL name:
    a redirect, not an import, so quality does not depend on the app above it."""
    return redirect("dashboards:overview")


@staff_required
def project_dashboard(request, project_pk):
    """``/ops/projects/<id>/`` (linked from appeals, pay, invitations) → the project dashboard."""
    project = get_object_or_404(Project, pk=project_pk)
    return redirect("dashboards:project", project_pk=project.pk)


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{field}: {m}" for field, msgs in exc.message_dict.items() for m in msgs]
    return list(exc.messages)


def _expert_rows(project: Project, posted_item: int | None, posted_raw: str | None) -> list[dict]:
    """The queue's rows with what each row's answer widget needs: the task type's own widget
    (``workforce/task_widgets/<type>.html``, as annotators see it) filled with the item's current
    answer (review mode: the annotator's) or, for the row just posted with an error, with what
    the expert posted."""
    t, config, labels = project.task_type, project.type_config, project.labels
    rows = selectors.expert_queue(project=project)
    for row in rows:
        item = row["item"]
        row["field"] = f"value-{item.pk}"
        row["widget"] = task_types.widget_context(t, config, labels, item.data)
        row["content"] = _content(item.data)
        row["current"] = None if item.value is None else json.dumps(item.value)
        row["chosen"] = posted_raw if item.pk == posted_item else row["current"]
        row["answer"] = task_types.describe(t, item.label or "", item.value) if item.value is not None else item.label
    return rows


@staff_required
@require_http_methods(["GET", "POST"])
def expert_queue(request, project_pk):
    """Items uncertain at the cap and review-mode items; a staff member's answer resolves one.
    POST ``item`` and ``label`` (single choice) or ``value-<item id>`` (the type widget's JSON;
    the structured types). Bad input re-renders the queue with the errors (400), nothing stored."""
    project = get_object_or_404(Project, pk=project_pk)
    errors: list[str] = []
    item_id, raw = None, None
    if request.method == "POST":
        try:
            item_id = int(request.POST.get("item", ""))
        except ValueError:
            errors = ["item: choose an item."]
        else:
            raw = request.POST.get(f"value-{item_id}")
            if not project.items.filter(pk=item_id).exists():
                errors = ["item: not an item of this project."]
            else:
                try:
                    value = None
                    if raw is not None:
                        try:
                            value = json.loads(raw) if raw else None
                        except ValueError:
                            raise ValidationError({"value": ["The answer could not be read."]}) from None
                    services.item_expert_resolve(
                        item_id=item_id, expert=request.user, label=request.POST.get("label", ""), value=value,
                        note=request.POST.get("note", "")[:2000],
                    )
                    return redirect("ops:expert_queue", project_pk=project.pk)
                except ValidationError as exc:
                    errors = _errors(exc)
    status = 400 if errors else 200
    single = project.task_type in (task_types.SINGLE, task_types.CONVERSATION)
    queue = _expert_rows(project, item_id if errors else None, raw)
    errors_item = item_id if errors and not single and any(row["item"].pk == item_id for row in queue) else None
    return render(
        request, "quality/expert_queue.html",
        {"project": project, "queue": queue, "errors": errors,
         "errors_item": errors_item,  # shown beside that item's widget instead of at the top
         "single": single,
         "review_mode": task_types.scoring_kind(project.task_type, project.type_config) == task_types.REVIEW,
         "widget_template": f"workforce/task_widgets/{project.task_type}.html",
         "label_keys": [{"value": lab, "key": ""} for lab in project.labels],
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
