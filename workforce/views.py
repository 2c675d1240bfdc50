"""Annotator web app: thin views over workforce services and selectors.

Security rule of the task page: the template never receives the item itself, only the text
to show, the lease id and form values. A hidden known-answer item is rendered by exactly
the same code path as a regular item, so the two pages cannot differ.
"""
from __future__ import annotations

import json
import time
import uuid

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tasks_app.models import Lease, Project

from . import ratelimit, selectors, services
from .forms import LabelChoiceForm, SignupForm, TaskForm
from .models import Membership

STARTED_SALT = "workforce.task.started"
MAX_DURATION_MS = 24 * 3600 * 1000


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
    try:
        membership = services.membership_join(project=project, annotator=request.user)
    except ValidationError:
        raise Http404("No such open project.") from None
    membership.project = project
    membership.annotator = request.user  # the user the request already loaded: one query fewer
    return membership


# --- account --------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("workforce:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait = ratelimit.signup_retry_after(request)
        if wait:
            form = ratelimit.form_with_error(form, ratelimit.too_many_message(wait, "sign-up"))
            return ratelimit.refuse(render(request, "workforce/signup.html", {"form": form}), wait)
        ratelimit.signup_attempted(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.annotator_signup(
                username=data["username"],
                password=data["password"],
                display_name=data.get("display_name") or "",
                email=data.get("email") or "",
            )
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                for msg in msgs:
                    form.add_error(field if field in form.fields else None, msg)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Cadre! Pick a project to start.")
            return redirect("workforce:home")
    return render(request, "workforce/signup.html", {"form": form})


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


# --- tutorial -------------------------------------------------------------------------------

def _tutorial_seen_key(project_id: int) -> str:
    return f"tutorial-seen-{project_id}"


@login_required
@require_http_methods(["GET", "POST"])
def tutorial(request: HttpRequest, project_id: int) -> HttpResponse:
    """One tutorial example per page (``?step=N``, 1-based). Answering shows at once whether
    it was right, the correct answer and the explanation. Answering the last one, having gone
    through them all, completes the tutorial (repeatable at any time)."""
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
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["label"]
        feedback = {"chosen": chosen, "correct": chosen == example.label}
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
            "completed_now": completed_now,
            "missing": missing,
            "labels": _label_keys(project.labels),
        },
    )


# --- qualifier ------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def qualifier(request: HttpRequest, project_id: int) -> HttpResponse:
    """All qualifier questions on one form; graded by ``qualifier_submit`` only on submit."""
    membership = _membership(request, project_id)
    project = membership.project
    questions = selectors.qualifier_examples(project=project)
    chosen: dict[int, str] = {}
    if request.method == "POST":
        for ex in questions:
            value = request.POST.get(f"q-{ex.pk}")
            if value:
                chosen[ex.pk] = value
        try:
            result = services.qualifier_submit(membership=membership, responses=chosen)
        except ValidationError as exc:
            _message_errors(request, exc)
            membership.refresh_from_db()
        else:
            return redirect("workforce:qualifier_result", project_id=project.pk, number=result.attempt.number)
    state = selectors.qualifier_state(membership=membership)
    rows = [
        {"number": i, "example": ex, "content": _content(ex.data), "chosen": chosen.get(ex.pk)}
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


# --- tasks ----------------------------------------------------------------------------------

def _content(data) -> dict:
    """What to show of an item's or example's data: its text, else the JSON (escaped by the
    template). Depends on ``data`` alone, never on what kind of item it came from."""
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        return {"text": data["text"], "json": None}
    return {"text": None, "json": json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)}


def _label_keys(labels: list[str]) -> list[dict]:
    return [{"value": lab, "key": str(i) if i <= 9 else "", "index": i} for i, lab in enumerate(labels, start=1)]


def _started_token(lease_id: int) -> str:
    return signing.dumps({"l": lease_id, "t": int(time.time() * 1000)}, salt=STARTED_SALT)


def _duration_ms(token: str, lease_id: int) -> int | None:
    """Milliseconds since the task form was rendered, from its signed start time."""
    try:
        payload = signing.loads(token, salt=STARTED_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("l") != lease_id or not isinstance(payload.get("t"), int):
        return None
    elapsed = int(time.time() * 1000) - payload["t"]
    return elapsed if 0 <= elapsed <= MAX_DURATION_MS else None


def _blocked(request: HttpRequest, membership: Membership) -> HttpResponse:
    return render(request, "workforce/task_blocked.html", {"project": membership.project, "membership": membership})


@login_required
@require_http_methods(["GET", "POST"])
def task(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = _membership(request, project_id)
    project = membership.project
    url = reverse("workforce:task", args=[project.pk])
    if request.method == "POST":
        return _task_post(request, membership, url)
    if not membership.can_work:
        return _blocked(request, membership)
    try:
        lease = services.task_next(membership=membership)
    except ValidationError:
        membership.refresh_from_db()
        return _blocked(request, membership)
    if lease is None:
        return render(request, "workforce/task_empty.html", {"project": project, "membership": membership})
    return _task_page(request, membership, lease)


def _task_page(request: HttpRequest, membership: Membership, lease: Lease) -> HttpResponse:
    # Only these values reach the template: nothing about the item but its content.
    context = {
        "project": membership.project,
        "membership": membership,
        "content": _content(lease.item.data),
        "labels": _label_keys(membership.project.labels),
        "lease_id": lease.pk,
        "client_key": uuid.uuid4().hex,
        "started": _started_token(lease.pk),
        "expires_at": lease.expires_at,
    }
    return render(request, "workforce/task.html", context)


def _task_post(request: HttpRequest, membership: Membership, url: str) -> HttpResponse:
    form = TaskForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That submission was incomplete; here is your task again.")
        return redirect(url)
    data = form.cleaned_data
    if not data["label"]:
        messages.error(request, "Choose a label before submitting.")
        return redirect(url)
    try:
        _, created = services.task_submit(
            membership=membership,
            lease_id=data["lease_id"],
            label=data["label"],
            client_key=data["client_key"],
            duration_ms=_duration_ms(data["started"], data["lease_id"]),
        )
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {}
        if "lease" in errors:
            messages.warning(request, f"{' '.join(errors['lease'])} Here is a fresh task.")
        else:
            _message_errors(request, exc)
        return redirect(url)
    if created:
        messages.success(request, "Answer saved. Here is the next one.")
    else:
        messages.info(request, "That answer was already saved. Here is the next one.")
    return redirect(url)
