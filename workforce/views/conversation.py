"""Two-person conversation pages (issue 6): the page that pairs two annotators on a scenario,
the small JSON state the page polls, and the turn / end / leave posts. Thin: the rules live in
``tasks_app.services.conversations`` (pairing, turns, timeouts, the labelling pass)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tasks_app.models import Conversation, Project
from tasks_app.services import conversations as conv_services

from .. import services
from ..forms import TurnForm
from ..models import Membership
from .common import _content, _errors
from .task import _blocked, _task_membership


def _conversation_membership(request: HttpRequest, project_id: int) -> Membership:
    membership = _task_membership(request, project_id)
    if membership.project.task_type != Project.TaskType.CONVERSATION:
        raise Http404("This project has no conversations.")
    return membership


def _own(request: HttpRequest, membership: Membership, conversation_id: int) -> Conversation:
    conversation = (
        Conversation.objects.select_related("project", "item")
        .filter(Q(first=request.user) | Q(second=request.user), pk=conversation_id, project=membership.project).first()
    )
    if conversation is None:
        raise Http404("No such conversation of yours.")
    return conversation


def _roles(project: Project) -> list[dict]:
    return (project.type_config or {}).get("roles") or [{"name": "Person 1", "instructions": ""}, {"name": "Person 2", "instructions": ""}]


def _state(conversation: Conversation, user) -> dict:
    """What the page needs: never who the partner is (no names, no ids), only their role."""
    config = {**conv_services.DEFAULTS, **(conversation.project.type_config or {})}
    roles = _roles(conversation.project)
    role = 0 if conversation.first_id == user.pk else 1
    turns = list(conversation.turns.order_by("position")) if conversation.state != Conversation.State.ABANDONED else []
    active = conversation.state == Conversation.State.ACTIVE
    return {
        "id": conversation.pk,
        "state": conversation.state,
        "role": role,
        "role_name": roles[role]["name"],
        "partner_role_name": roles[1 - role]["name"],
        "your_turn": active and len(turns) % 2 == role,
        "turns": [{"position": t.position, "role_name": roles[t.role]["name"], "mine": t.role == role, "text": t.text}
                  for t in turns],
        "min_turns": config["min_turns"],
        "max_turns": config["max_turns"],
        "can_end": active and len(turns) >= config["min_turns"],
        "end_reason": conversation.end_reason,
    }


@login_required
@require_GET
def conversation(request: HttpRequest, project_id: int) -> HttpResponse:
    """Pair (or wait), then show the conversation: the scenario, your role and its
    instructions, the dialogue so far; the page's script polls the state and sends turns."""
    membership = _conversation_membership(request, project_id)
    if not membership.can_work:
        return _blocked(request, membership)
    try:
        conv = services.conversation_next(membership=membership)
    except ValidationError:
        return _blocked(request, membership)
    if conv is None:
        return render(request, "workforce/task_empty.html", {"project": membership.project, "membership": membership})
    conv = _own(request, membership, conv.pk)
    state = _state(conv, request.user)
    roles = _roles(membership.project)
    context = {
        "project": membership.project, "membership": membership, "conversation": conv, "state": state,
        "content": _content(conv.item.data), "my_role": roles[state["role"]], "partner_role": roles[1 - state["role"]],
        "widget_template": "workforce/task_widgets/conversation.html",
    }
    return render(request, "workforce/conversation.html", context)


@login_required
@require_GET
def conversation_state(request: HttpRequest, project_id: int, conversation_id: int) -> JsonResponse:
    """The poll: records that this person is still here, applies the timeouts, returns the state."""
    membership = _conversation_membership(request, project_id)
    conv = _own(request, membership, conversation_id)
    conv = conv_services.conversation_poll(conversation_id=conv.pk, annotator=request.user)
    return JsonResponse(_state(conv, request.user))


def _answer(request: HttpRequest, membership: Membership, conv: Conversation, error: ValidationError | None) -> HttpResponse:
    """JSON for the page's script (400 with field errors on bad input), else back to the page."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    if wants_json:
        if error is not None:
            body = error.message_dict if hasattr(error, "error_dict") else {"detail": _errors(error)}
            return JsonResponse(body, status=400)
        conv.refresh_from_db()
        return JsonResponse(_state(conv, request.user))
    if error is not None:
        for msg in _errors(error):
            messages.error(request, msg)
    return redirect("workforce:conversation", membership.project.pk)


@login_required
@require_POST
def conversation_turn(request: HttpRequest, project_id: int, conversation_id: int) -> HttpResponse:
    membership = _conversation_membership(request, project_id)
    conv = _own(request, membership, conversation_id)
    form = TurnForm(request.POST)
    error = None
    if not form.is_valid():
        error = ValidationError({"text": ["Keep a turn to 2000 characters."]})
    elif not membership.can_work:
        error = ValidationError({"membership": ["You cannot take tasks on this project."]})
    else:
        try:
            conv_services.conversation_turn_add(conversation_id=conv.pk, annotator=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            error = exc
    return _answer(request, membership, conv, error)


@login_required
@require_POST
def conversation_end(request: HttpRequest, project_id: int, conversation_id: int) -> HttpResponse:
    membership = _conversation_membership(request, project_id)
    conv = _own(request, membership, conversation_id)
    try:
        conv_services.conversation_end(conversation_id=conv.pk, annotator=request.user)
    except ValidationError as exc:
        return _answer(request, membership, conv, exc)
    return _answer(request, membership, conv, None)


@login_required
@require_POST
def conversation_leave(request: HttpRequest, project_id: int, conversation_id: int) -> HttpResponse:
    membership = _conversation_membership(request, project_id)
    conv = _own(request, membership, conversation_id)
    conv_services.conversation_leave(conversation_id=conv.pk, annotator=request.user)
    if "application/json" in request.headers.get("Accept", ""):
        return _answer(request, membership, conv, None)
    messages.info(request, "You left the conversation; nothing of it was kept.")
    return redirect("workforce:project", membership.project.pk)
