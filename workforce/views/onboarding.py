"""Tutorial (instant feedback) and qualifier (graded at the end)."""
from __future__ import annotations


from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods


from tasks_app import task_types

from .. import selectors, services
from ..forms import LabelChoiceForm
from .common import _content, _label_keys, _membership, _message_errors


# --- tutorial -------------------------------------------------------------------------------

def _tutorial_seen_key(project_id: int) -> str:
    return f"tutorial-seen-{project_id}"


@login_required
@require_http_methods(["GET", "POST"])
def tutorial(request: HttpRequest, project_id: int) -> HttpResponse:
    """One tutorial example per page (``?step=N``, 1-based). Answering shows at once whether
    it was right, the correct answer and the explanation. Answering the last one, having gone
    through them all, completes the tutorial (repeatable at any time).

    The annotator's answer is kept in the widget (review leftover; the qualifier already did this
    on a form error): after an error the form comes back with it filled in, and the feedback
    shows it in the task type's own widget, read-only (a disabled fieldset) under "Your answer",
    above the correct one — boxes drawn where they drew them, options ticked, text as typed —
    so the comparison is with what they did, not only with its one-line description."""
    membership = _membership(request, project_id)
    project = membership.project
    examples = selectors.tutorial_examples(project=project)
    if not examples:
        messages.info(request, "This project has no tutorial examples.")
        return redirect("workforce:project", project_id=project.pk)
    try:
        step = int(request.GET.get("step", "1"))
    except ValueError:
        step = 1
    if request.GET.get("restart"):
        request.session[_tutorial_seen_key(project.pk)] = []
        return redirect(f"{reverse('workforce:tutorial', args=[project.pk])}?step=1")
    step = min(max(step, 1), len(examples))
    example = examples[step - 1]
    form = LabelChoiceForm(request.POST or None, labels=project.labels)
    feedback = None
    completed_now = False
    missing: list[int] = []
    answered = None
    # the raw posted answer, given back to the widget (``chosen``): refill after an error, shown with the feedback
    chosen = request.POST.get("label" if project.task_type == "single_choice" else "value") if request.method == "POST" else None
    if request.method == "POST" and (project.task_type != "single_choice" or form.is_valid()):  # else: form errors
        answered = _tutorial_answer(request, project, example)
    if answered is not None and answered.get("error"):
        messages.error(request, answered["error"])
        answered = None
    if answered is not None:
        feedback = answered
        seen = set(request.session.get(_tutorial_seen_key(project.pk), []))
        seen.add(example.pk)
        request.session[_tutorial_seen_key(project.pk)] = sorted(seen)
        if step == len(examples):
            missing = [i for i, ex in enumerate(examples, start=1) if ex.pk not in seen]
            if not missing:
                already = membership.tutorial_completed_at is not None
                membership = services.tutorial_complete(membership=membership)
                completed_now = not already
    return render(
        request,
        "workforce/tutorial.html",
        {
            "project": project,
            "membership": membership,
            "example": example,
            "content": _content(example.data),
            "step": step,
            "total": len(examples),
            "is_last": step == len(examples),
            "form": form,
            "feedback": feedback,
            "chosen": chosen or None,
            "completed_now": completed_now,
            "missing": missing,
            "labels": _label_keys(project.labels),
            "widget_template": f"workforce/task_widgets/{project.task_type}.html",
            "widget": task_types.widget_context(project.task_type, project.type_config, project.labels, example.data),
        },
    )


def _tutorial_answer(request: HttpRequest, project, example) -> dict | None:
    """The posted tutorial answer graded against the example by the task type's rule
    (``tasks_app.task_types``): right or not, both answers as read for people, and per-type
    notes (which options, keywords or boxes matched). None when nothing was posted; ``error``
    when the answer does not fit the type."""
    t, config = project.task_type, project.type_config
    raw = request.POST.get("label" if t == "single_choice" else "value")
    if not raw:
        return {"error": "Choose a label." if t == "single_choice" else "Give your answer first."}
    try:
        label, value = task_types.response_parse(t, config, project.labels, raw)
    except ValidationError as exc:
        return {"error": " ".join(exc.messages)}
    return {
        "chosen": task_types.describe(t, label, value),
        "right": task_types.describe(t, example.label, example.value),
        "correct": task_types.answer_matches(t, config, label, value, example.label, example.value),
        "notes": task_types.feedback_notes(t, config, value, example.value),
        "boxes": example.value if t == "bbox" else None,
        "image_url": task_types.widget_context(t, config, project.labels, example.data).get("image_url"),
    }


# --- qualifier ------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def qualifier(request: HttpRequest, project_id: int) -> HttpResponse:
    """The sitting's drawn questions on one form; graded by ``qualifier_submit`` only on
    submit. Opening the page draws the sitting (kept across reloads: no re-rolling)."""
    membership = _membership(request, project_id)
    project = membership.project
    chosen: dict[int, str] = {}
    if request.method == "POST":
        for key, value in request.POST.items():
            if key.startswith("q-") and key[2:].isdigit() and value:
                chosen[int(key[2:])] = value
        try:
            result = services.qualifier_submit(membership=membership, responses=chosen)
        except ValidationError as exc:
            _message_errors(request, exc)
            membership.refresh_from_db()
        else:
            return redirect("workforce:qualifier_result", project_id=project.pk, number=result.attempt.number)
    questions = []
    if selectors.qualifier_state(membership=membership).can_sit:
        attempt = services.qualifier_draw(membership=membership)
        by_id = {ex.pk: ex for ex in selectors.qualifier_examples(project=project)}
        questions = [by_id[i] for i in attempt.example_ids if i in by_id]
    state = selectors.qualifier_state(membership=membership)
    t, config = project.task_type, project.type_config
    rows = [
        {"number": i, "example": ex, "content": _content(ex.data), "chosen": chosen.get(ex.pk), "field": f"q-{ex.pk}",
         "widget": task_types.widget_context(t, config, project.labels, ex.data)}
        for i, ex in enumerate(questions, start=1)
    ]
    return render(
        request,
        "workforce/qualifier.html",
        {
            "project": project,
            "membership": membership,
            "state": state,
            "rows": rows,
            "labels": project.labels,
            "label_keys": _label_keys(project.labels),
            "widget_template": f"workforce/task_widgets/{project.task_type}.html",
            "last_attempt": selectors.qualifier_last_attempt(membership=membership),
        },
    )


@login_required
def qualifier_result(request: HttpRequest, project_id: int, number: int) -> HttpResponse:
    membership = _membership(request, project_id)
    project = membership.project
    attempt = selectors.qualifier_attempt(membership=membership, number=number)
    if attempt is None:
        raise Http404("No such qualifier attempt.")
    review = [
        {"row": row, "content": _content(row.example.data)} for row in selectors.qualifier_review(attempt=attempt)
    ]
    return render(
        request,
        "workforce/qualifier_result.html",
        {
            "project": project,
            "membership": membership,
            "attempt": attempt,
            "score": (attempt.correct / attempt.total) if attempt.total else 0.0,
            "review": review,
            "state": selectors.qualifier_state(membership=membership),
        },
    )
