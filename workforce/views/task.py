"""The task page and its script's JSON loop (``task_json``: submit + next task in one fetch, issue 9).
Security rule: the template (and the JSON) never receives the item itself, only the text to
show, the lease id and form values; a hidden known-answer item is rendered by exactly the same code path."""
from __future__ import annotations

import json
import math
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tasks_app import services as task_services
from tasks_app import task_types
from tasks_app.models import Lease, Project
from tasks_app.services.rows import from_row
from tasks_app.services.sql import prepared_cursor

from .. import selectors, selectors_pay, services
from ..forms import SkipForm, TaskForm
from ..models import AnnotatorProfile, Audience, Membership
from .common import _content, _label_keys, _membership, _message_errors

User = get_user_model()
STARTED_SALT = "workforce.task.started"
MAX_DURATION_MS = 24 * 3600 * 1000
# Behaviour signals the page's script fills in (README "Behaviour signals"); cleaned by the answer service.
SIGNAL_FIELDS = ("visible_ms", "pastes", "blurs")


# --- tasks ----------------------------------------------------------------------------------

def _started_mac(message: str, secret: str) -> str:
    return salted_hmac(STARTED_SALT, message, secret=secret, algorithm="sha256").hexdigest()[:32]


def _started_token(lease_id: int) -> str:
    """``<lease id>.<epoch ms>.<HMAC-SHA256 of both, 128 bits>``: the time the task was handed out,
    which the annotator cannot change. Decided (issue 9, ``i9web4``): a bare HMAC instead of
    ``django.core.signing.dumps`` (JSON, base64, a timestamp signer: with ``loads``, ~3.6 % of the
    web worker's CPU per annotation in a cProfile of the JSON loop); same key material (``SECRET_KEY``,
    this salt), same refusal of anything tampered. A token issued before the change just gives no
    duration, as a tampered one does."""
    message = f"{lease_id}.{int(time.time() * 1000)}"
    return f"{message}.{_started_mac(message, settings.SECRET_KEY)}"


def _duration_ms(token: str, lease_id: int) -> int | None:
    """Milliseconds since the task form was rendered, from its signed start time (None when the
    token is not one this site issued for this lease, or the time is out of range). Verified with
    the current key and ``SECRET_KEY_FALLBACKS``, as ``signing.loads`` does."""
    message, _, mac = token.rpartition(".")
    lease, _, started = message.partition(".")
    if lease != str(lease_id) or not started.isascii() or not started.isdigit() or len(started) > 16:
        return None
    if not any(constant_time_compare(mac, _started_mac(message, key))
               for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)):
        return None
    elapsed = int(time.time() * 1000) - int(started)
    return elapsed if 0 <= elapsed <= MAX_DURATION_MS else None


def _blocked(request: HttpRequest, membership: Membership) -> HttpResponse:
    return render(request, "workforce/task_blocked.html", {"project": membership.project, "membership": membership})


def _task_membership(request: HttpRequest, project_id: int) -> Membership:
    """The annotator's membership with its live project in one query (the hot path: every
    next task and submit). A membership exists only for annotator accounts (``membership_join``
    checks that before creating one); on a first visit or for anyone else, ``_membership``
    decides (creates it, or 403 / 404) exactly as the other project pages do."""
    membership = (
        Membership.objects.select_related("project", "project__audience")  # audience: quotas and rules (issue 3)
        .filter(project_id=project_id, annotator_id=request.user.pk, project__status=Project.Status.LIVE)
        .first()
    )
    if membership is None or membership.requalification_due:
        # first visit, or qualified on a spec version since changed materially: the full path
        # (visibility, joining, back to the qualifier) that every other project page takes
        return _membership(request, project_id)
    membership.annotator = request.user  # the user the request already loaded
    return membership


_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _session_membership(request: HttpRequest, project_id: int) -> Membership | None:
    """The hot path's user, membership, project and profile in ONE query, or None when the usual
    route must decide (issue 9: the auth middleware's user query and the profile query were two
    of the loop's fixed statements).

    The user is accepted only as ``django.contrib.auth.get_user`` would accept it with the model
    backend, checked on the joined row: the session names that backend, the account is active
    and the session's auth hash matches the current password hash. Anything else (no session,
    another backend, a hash only a fallback secret verifies, an inactive account, no membership
    yet, requalification due) returns None and the caller takes the ordinary route
    (``login_required`` + ``_task_membership``), which logs out, redirects or 404s exactly as
    before. Accepted, the user replaces the middleware's lazy ``request.user`` before anything
    has read it. The profile read here is the one ``tasking_blocked`` checks (a suspension counts
    from the next request, as it did when that check read it a few statements later)."""
    session = request.session
    try:
        user_id = int(session[SESSION_KEY])
        backend = session[BACKEND_SESSION_KEY]
    except (KeyError, TypeError, ValueError):
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if backend != _MODEL_BACKEND or backend not in settings.AUTHENTICATION_BACKENDS or not session_hash:
        return None
    membership = _membership_row(project_id, user_id)
    if membership is None or membership.requalification_due:
        return None
    user = membership.annotator
    if not user.is_active or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    request.user = user
    membership.profile_read = True  # tasking_blocked: the profile came with this row
    return membership


# The one query of ``_session_membership`` as plain SQL, built once from the models' concrete fields:
# the ORM's select_related over five tables spent ~3.7 ms of Python per request building and reading
# it (bench/load.py --profile, issue 9) for a statement PostgreSQL runs in a fraction of that.
# Same rows as ``Membership.objects.select_related("project", "project__audience", "annotator",
# "annotator__annotator").filter(project_id=…, annotator_id=…, project__status="live").first()``.
_MEMBERSHIP_JOIN = (  # (alias, model, join); LEFT: the row may be missing
    ("m", Membership, ""),
    ("p", Project, "JOIN {t} p ON p.id = m.project_id"),
    ("au", Audience, "LEFT JOIN {t} au ON au.project_id = p.id"),
    ("u", User, "JOIN {t} u ON u.id = m.annotator_id"),
    ("pr", AnnotatorProfile, "LEFT JOIN {t} pr ON pr.user_id = u.id"),
)
_membership_sql: list[str] = []


def _membership_sql_text() -> str:
    if not _membership_sql:
        q = connection.ops.quote_name
        cols = ", ".join(f"{alias}.{q(f.column)}" for alias, model, _ in _MEMBERSHIP_JOIN for f in model._meta.concrete_fields)
        joins = " ".join(join.format(t=q(model._meta.db_table)) for _, model, join in _MEMBERSHIP_JOIN[1:])
        _membership_sql.append(f"SELECT {cols} FROM {q(Membership._meta.db_table)} m {joins} "
                               f"WHERE m.project_id = %s AND m.annotator_id = %s AND p.status = '{Project.Status.LIVE}' LIMIT 1")
    return _membership_sql[0]


def _membership_row(project_id: int, user_id: int) -> Membership | None:
    if connection.vendor != "postgresql":  # the embedded run (SQLite converts dates itself): the ORM's query
        return (Membership.objects.select_related("project", "project__audience", "annotator", "annotator__annotator")
                .filter(project_id=project_id, annotator_id=user_id, project__status=Project.Status.LIVE).first())
    with prepared_cursor() as cursor:
        cursor.execute(_membership_sql_text(), [project_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    objs, at, db = [], 0, connections[DEFAULT_DB_ALIAS]
    for _, model, _ in _MEMBERSHIP_JOIN:
        obj, at = from_row(model, row, at, db)
        objs.append(obj)
    membership, project, audience, user, profile = objs
    Membership.project.field.set_cached_value(membership, project)
    Project.audience.related.set_cached_value(project, audience)
    if audience is not None:
        Audience.project.field.set_cached_value(audience, project)
    Membership.annotator.field.set_cached_value(membership, user)
    User.annotator.related.set_cached_value(user, profile)
    if profile is not None:
        AnnotatorProfile.user.field.set_cached_value(profile, user)
    return membership


def task(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = _session_membership(request, project_id) if request.method in ("GET", "POST") else None
    if membership is None:
        return _task_usual(request, project_id)
    return _task(request, membership)


@login_required
@require_http_methods(["GET", "POST"])
def _task_usual(request: HttpRequest, project_id: int) -> HttpResponse:
    return _task(request, _task_membership(request, project_id))


def _task(request: HttpRequest, membership: Membership) -> HttpResponse:
    project = membership.project
    if project.task_type == Project.TaskType.CONVERSATION:  # paired live work: its own page (issue 6)
        return redirect("workforce:conversation", project.pk)
    url = reverse("workforce:task", args=[project.pk])
    if request.method == "POST":
        return _task_post(request, membership, url)
    return _next_task_response(request, membership)


_TASK_URL_NAMES = ("project", "task_progress", "task_instructions", "task", "task_skip", "task_json")
_task_urls_memo: dict[tuple[str, int], dict[str, str]] = {}


def _task_urls(project_id: int) -> dict[str, str]:
    """The task page's own links, reversed once per project and script prefix (issue 9: eight
    ``{% url %}`` tags were ~0.5 ms of the page's render; the links depend on nothing else).
    Bounded: cleared when it holds more projects than a process plausibly serves at once."""
    key = (get_script_prefix(), project_id)
    urls = _task_urls_memo.get(key)
    if urls is None:
        if len(_task_urls_memo) >= 1024:
            _task_urls_memo.clear()
        urls = {name: reverse(f"workforce:{name}", args=[project_id]) for name in _TASK_URL_NAMES}
        urls["earnings"] = reverse("workforce:earnings")
        _task_urls_memo[key] = urls
    return urls


def _task_page(request: HttpRequest, membership: Membership, lease: Lease) -> HttpResponse:
    # Only these values reach the template: nothing about the item but its content.
    context = {
        "urls": _task_urls(membership.project.pk),
        "project": membership.project,
        "membership": membership,
        "content": _content(lease.item.data),
        "labels": _label_keys(membership.project.labels),
        "lease_id": lease.pk,
        "client_key": uuid.uuid4().hex,
        "started": _started_token(lease.pk),
        "expires_at": lease.expires_at,
        # the countdown starts from the server's clock, so a wrong clock on the phone does not matter;
        # rounded up, so the page never says "time is up" while the lease still runs
        "seconds_left": max(0, math.ceil((lease.expires_at - timezone.now()).total_seconds())),
        "skip_reasons": Lease.SkipReason.choices,
        "widget_template": f"workforce/task_widgets/{membership.project.task_type}.html",
        # what the type's widget shows besides the labels (image URL, scale, candidates): item content only
        "widget": task_types.widget_context(
            membership.project.task_type, membership.project.type_config, membership.project.labels, lease.item.data
        ),
    }
    return render(request, "workforce/task.html", context)


def _next_task_response(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The next task page: the answer to a GET, and to a submit that asked for it (the page's own
    form does: ``then=next``, one request per annotation instead of submit + redirect + GET).
    One function for both, so a hidden check looks exactly like any other item either way."""
    if not membership.can_work:
        return _blocked(request, membership)
    try:
        lease = services.task_next(membership=membership)
    except ValidationError:
        membership.refresh_from_db()
        return _blocked(request, membership)
    if lease is None:
        return render(request, "workforce/task_empty.html", {"project": membership.project, "membership": membership})
    return _task_page(request, membership, lease)


def _submit(request: HttpRequest, membership: Membership):
    """Check and store the posted answer: ``(answer, created, None)``, or ``(None, None, errors)``
    with ``errors`` a ``{field: [message]}`` dict and nothing stored. Shared by the page's form
    (``_task_post``) and the workbench's JSON loop (``task_json``), so both take the same rules:
    the idempotent client key, the lease checks, gating, the behaviour signals, the image size."""
    form = TaskForm(request.POST)
    if not form.is_valid():
        fields = {k: [e["message"] for e in v] for k, v in form.errors.get_json_data().items()}
        return None, None, {"form": ["That submission was incomplete; here is your task again."], **fields}
    data = form.cleaned_data
    if not data["label"] and not data["value"]:
        return None, None, {"label": ["Choose a label before submitting." if membership.project.task_type == "single_choice"
                                      else "Give your answer before submitting."]}
    try:
        value = json.loads(data["value"]) if data["value"] else None  # the type's widget writes JSON (issue 6)
    except ValueError:
        return None, None, {"value": ["Your answer could not be read; here is your task again."]}
    try:
        answer, created = services.task_submit(
            membership=membership,
            lease_id=data["lease_id"],
            label=data["label"],
            client_key=data["client_key"],
            duration_ms=_duration_ms(data["started"], data["lease_id"]),
            signals={k: request.POST.get(k) for k in SIGNAL_FIELDS},
            value=value,
        )
    except ValidationError as exc:
        return None, None, (exc.message_dict if hasattr(exc, "error_dict") else {"__all__": list(exc.messages)})
    if request.POST.get("image_size") and membership.project.task_type == Project.TaskType.BBOX:
        # i6r: the bbox widget's natural image size, kept in the item's data while it has none (COCO export)
        task_services.item_image_size_report(item_id=answer.item_id, raw=request.POST["image_size"])
    return answer, created, None


def _task_post(request: HttpRequest, membership: Membership, url: str) -> HttpResponse:
    answer, created, errors = _submit(request, membership)
    if errors is not None:
        if "form" in errors:
            messages.error(request, errors["form"][0])
        elif "lease" in errors:
            messages.warning(request, f"{' '.join(errors['lease'])} Here is a fresh task.")
        else:
            for msgs in errors.values():
                for msg in msgs:
                    messages.error(request, msg)
        return redirect(url)
    if created:
        messages.success(request, "Answer saved. Here is the next one.")
    else:
        messages.info(request, "That answer was already saved. Here is the next one.")
    if request.POST.get("then") == "next":
        return _next_task_response(request, membership)
    return redirect(url)


# --- workbench: skip, progress, instructions (issue 6) --------------------------------------

def task_skip(request: HttpRequest, project_id: int) -> HttpResponse:
    """Give the task back with a reason; answers with the next task (as a submit does)."""
    membership = _session_membership(request, project_id) if request.method == "POST" else None
    if membership is None:
        return _task_skip_usual(request, project_id)
    return _task_skip(request, membership)


@login_required
@require_POST
def _task_skip_usual(request: HttpRequest, project_id: int) -> HttpResponse:
    return _task_skip(request, _task_membership(request, project_id))


def _task_skip(request: HttpRequest, membership: Membership) -> HttpResponse:
    url = reverse("workforce:task", args=[membership.project.pk])
    form = SkipForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That skip was incomplete; here is your task again.")
        return redirect(url)
    try:
        services.task_skip(membership=membership, lease_id=form.cleaned_data["lease_id"],
                           reason=form.cleaned_data["reason"], note=form.cleaned_data["note"])
    except ValidationError as exc:
        _message_errors(request, exc)
        return redirect(url)
    messages.info(request, "Task skipped; you will not be shown it again. Here is the next one.")
    if request.POST.get("then") == "next":
        return _next_task_response(request, membership)
    return redirect(url)


@login_required
@require_GET
def task_progress(request: HttpRequest, project_id: int) -> JsonResponse:
    """The workbench's progress line (answers this session and today, earnings today), read by
    the page's script after it loads, so the task request itself stays at its query budget.
    ``since``: the tab's session start in epoch milliseconds (optional)."""
    membership = _task_membership(request, project_id)
    since = None
    raw = request.GET.get("since", "")
    if raw:
        if not raw.isdigit() or len(raw) > 15:
            return JsonResponse({"since": ["Give the session start as epoch milliseconds."]}, status=400)
        since = datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
    return JsonResponse(selectors_pay.workbench_progress(annotator=request.user, project_id=membership.project.pk, since=since))


@login_required
@require_GET
def task_instructions(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's full instructions with the tutorial's worked examples (never the qualifier's
    or the hidden checks'). ``?part=1``: only the examples, for the workbench's dialog."""
    membership = _task_membership(request, project_id)
    context = {"project": membership.project, "examples": selectors.tutorial_examples(project=membership.project)}
    for ex in context["examples"]:
        ex.shown = _content(ex.data)
    template = "workforce/_task_examples.html" if request.GET.get("part") == "1" else "workforce/task_instructions.html"
    return render(request, template, context)


# --- the workbench's JSON loop (issue 9: submit + next task in one fetch, no page render) ---------

# Task types whose widget the page's script refills in place. Decided: the item's content is sent as
# the server-rendered ``_content.html`` fragment (21 µs to render, measured: one source of truth for
# how an item is shown, and no second renderer in JavaScript); the answer widgets of these types are
# the same for every item of a project (labels, scale, classes) except the bbox image (sent as data,
# the widget's own script swaps it) and most-similar's candidates (its widget fragment is sent, it has
# no script). Conversation projects have a page of their own: the JSON answers ``reload``.
_JSON_FRAGMENT_WIDGETS = (Project.TaskType.MOST_SIMILAR,)


def task_json(request: HttpRequest, project_id: int) -> JsonResponse:
    """POST (the task page's script, ``fetch`` with the CSRF header): record the answer exactly as
    the page's form does and answer with the next task as JSON, so the page refills its widget in
    place: one request per annotation and no page render. Answers:

    * 200 ``{"state": "task", ...}``: the next task (``_task_payload``);
    * 200 ``{"state": "empty" | "blocked" | "reload", "reload": url}``: no more work, work stopped
      (paused, revoked, suspended, quota), or a page of its own: the script goes to ``reload``;
    * 400 ``{"errors": {field: [message]}}``: bad input, nothing stored;
    * 409 ``{"errors": {"lease": [...]}}``: the lease is not (or no longer) yours; nothing stored;
    * 403 ``{"errors": {"membership": [...]}, "reload": url}``: cannot work on this project;
    * 401 ``{"reload": login url}``: not logged in.

    Same security rule as the page: nothing about the item but its content."""
    if request.method != "POST":
        return JsonResponse({"errors": {"method": ["Send the answer with POST."]}}, status=405)
    membership = _session_membership(request, project_id)
    if membership is None:  # the usual route: the auth middleware's user, then membership (403 / 404 as the page)
        if not request.user.is_authenticated:
            url = _task_urls(project_id)["task"]
            return JsonResponse({"state": "login", "reload": f"{settings.LOGIN_URL}?next={url}"}, status=401)
        membership = _task_membership(request, project_id)
    project = membership.project
    if project.task_type == Project.TaskType.CONVERSATION:
        return JsonResponse({"state": "reload", "reload": reverse("workforce:conversation", args=[project.pk])})
    answer, created, errors = _submit(request, membership)
    if errors is not None:
        if "lease" in errors:
            return JsonResponse({"errors": errors}, status=409)
        if "membership" in errors:
            return JsonResponse({"errors": errors, "state": "blocked", "reload": _task_urls(project.pk)["task"]}, status=403)
        return JsonResponse({"errors": errors}, status=400)
    payload = _next_task_payload(membership)
    payload["saved"] = "Answer saved. Here is the next one." if created else "That answer was already saved. Here is the next one."
    payload["counted"] = created
    if "reload" in payload:  # the page the script goes to (no more work, blocked) says the answer was kept, as the form's does
        (messages.success if created else messages.info)(request, payload["saved"])
    return JsonResponse(payload)


def _next_task_payload(membership: Membership) -> dict:
    """The JSON twin of ``_next_task_response``: the same service call, so a hidden check, a
    repeat and a regular item come out of the same code either way."""
    url = _task_urls(membership.project.pk)["task"]
    if not membership.can_work:
        return {"state": "blocked", "reload": url}
    try:
        lease = services.task_next(membership=membership)
    except ValidationError:
        return {"state": "blocked", "reload": url}
    if lease is None:
        return {"state": "empty", "reload": url}
    return _task_payload(membership, lease)


def _clock_text(when: datetime) -> str:
    """``when`` in the current time zone as ``dateformat.format(…, "H:i:s T")`` writes it (``T`` is the
    zone's ``tzname``), by ``strftime``: a third of the CPU (issue 9, ``i9web4``)."""
    local = timezone.localtime(when)
    return f"{local:%H:%M:%S} {local.tzinfo.tzname(local)}"


def _task_payload(membership: Membership, lease: Lease) -> dict:
    """Only what the page changes between two tasks: the lease's form values, the countdown, the
    item's content (the page's own fragment), the standing warning and, for the types that show
    part of the item in the widget, that part. Never the item's id, known-ness or repeat-ness."""
    project = membership.project
    data = lease.item.data
    payload = {
        "state": "task",
        "lease_id": lease.pk,
        "client_key": uuid.uuid4().hex,
        "started": _started_token(lease.pk),
        "seconds_left": max(0, math.ceil((lease.expires_at - timezone.now()).total_seconds())),
        "expires_at": lease.expires_at.isoformat(),
        "expires_at_text": _clock_text(lease.expires_at),
        "content_html": get_template("workforce/_content.html").render({"content": _content(data)}),
        "warning": membership.standing_reason if membership.standing == Membership.Standing.WARNED else None,
    }
    if project.task_type == Project.TaskType.BBOX:
        widget = task_types.widget_context(project.task_type, project.type_config, project.labels, data)
        payload["widget"] = {"image_url": widget["image_url"], "report_size": widget["report_size"]}
    elif project.task_type in _JSON_FRAGMENT_WIDGETS:
        widget = task_types.widget_context(project.task_type, project.type_config, project.labels, data)
        payload["widget_html"] = get_template(f"workforce/task_widgets/{project.task_type}.html").render({"widget": widget})
    return payload
