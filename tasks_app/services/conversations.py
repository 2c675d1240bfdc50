"""Two-person conversations (task type ``conversation``, issue 6).

Spec (``Project.type_config``, checked by ``conversation_config_clean``)::

    {"roles": [{"name": "Flower seller", "instructions": "..."}, {"name": "Buyer", "instructions": "..."}],
     "min_turns": 4, "max_turns": 12, "turn_seconds": 300, "partner_seconds": 30, "wait_seconds": 600,
     "labelling_project": 17}

Each item of the project is a *scenario*. An annotator asking for work either joins the oldest
conversation waiting for a partner (they become role 1) or opens a new one on a free scenario
(role 0) and waits. Pairing runs under the project's advisory lock (namespace below), so two
annotators asking at the same moment pair with each other instead of each opening a conversation
and waiting forever, and a waiting conversation is never taken twice; the scenario row is taken
with ``FOR UPDATE SKIP LOCKED`` and the database allows one live-or-finished conversation per
scenario (``conversation_one_per_item``).

Turns alternate, role 0 first (``position % 2`` is the role). The dialogue ends when it reaches
``max_turns`` or when either person ends it after ``min_turns``; it is then *finished*: the
scenario item is accepted (label ``"conversation"``, value ``{"conversation_id", "turns"}``) and,
when the spec names a ``labelling_project`` (a project of the same organization, not itself a
conversation project, whose items are ``{"text": ...}``), the transcript becomes an item there
(external id ``conversation-<id>``) for other annotators to label: the labelling pass is that
project's ordinary work, with its own examples, checks and quality engine.

The labelling project runs by itself (decision, issue 6): the customer creates it as a draft with
its own spec (labels, examples: checked when it is created, and checked again as a labelling
project when the conversation spec names it: same organization, ``{"text"}`` examples, a draft or
in production), and the first finished dialogue launches it in the same transaction that uploads
the transcript (``project_launch`` needs an item, so it cannot open earlier). While a conversation
project that feeds it is running (pilot, pilot review or production), the labelling project does not
complete when its transcripts are all labelled: it waits for more (``phases.project_phase_advance``);
it completes once its conversation projects are complete and its last transcript is decided.

If a partner leaves (presses Leave, or their page stops asking for news for ``partner_seconds``)
or nobody writes for ``turn_seconds``, or nobody joins within ``wait_seconds``, the conversation
is *abandoned*: its turns are deleted (nothing half-written is kept or delivered) and the scenario
is free again. Every page poll applies these timeouts; ``conversations_expire`` (Celery beat)
sweeps the rest.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Conversation, Item, Project, Turn
from .items import data_shape, items_upload
from .projects import project_launch

LOCK_NAMESPACE = 0x43565354  # "CVST": the pairing lock per project (quality uses "CADR")
TEXT_MAX = 2000
DEFAULTS = {"min_turns": 4, "max_turns": 12, "turn_seconds": 300, "partner_seconds": 30, "wait_seconds": 600}
BOUNDS = {"min_turns": (2, 100), "max_turns": (2, 100), "turn_seconds": (30, 3600), "partner_seconds": (10, 600),
          "wait_seconds": (30, 24 * 3600)}
LIVE = (Conversation.State.WAITING, Conversation.State.ACTIVE)
# where a labelling project may be when a conversation project names it: a draft is launched by the
# first dialogue; a project in pilot would hold the dialogues until someone approves; a complete one takes no more
LABELLING_PHASES = (Project.Phase.DRAFT, Project.Phase.PRODUCTION)


# --- the spec -------------------------------------------------------------------------------

def conversation_config_clean(*, config: Any, organization_id: int | None = None) -> dict:
    """The conversation part of a spec, with defaults filled in; ValidationError with field
    errors (``type_config.<field>``) otherwise."""
    errors: dict[str, list[str]] = {}
    if not isinstance(config, dict):
        raise ValidationError({"type_config": ["Give the conversation settings as an object."]})
    unknown = set(config) - set(DEFAULTS) - {"roles", "labelling_project"}
    if unknown:
        errors["type_config"] = [f"Unknown setting(s): {', '.join(sorted(unknown))}."]
    roles = config.get("roles")
    clean_roles = []
    if not isinstance(roles, list) or len(roles) != 2:
        errors["type_config.roles"] = ["Give exactly two roles, each {\"name\", \"instructions\"}."]
    else:
        for i, role in enumerate(roles):
            name = role.get("name") if isinstance(role, dict) else None
            instructions = role.get("instructions", "") if isinstance(role, dict) else None
            if not isinstance(name, str) or not name.strip() or len(name) > 60:
                errors.setdefault("type_config.roles", []).append(f"Role {i + 1}: a name of 1 to 60 characters.")
            elif not isinstance(instructions, str) or len(instructions) > 4000:
                errors.setdefault("type_config.roles", []).append(f"Role {i + 1}: instructions of at most 4000 characters.")
            else:
                clean_roles.append({"name": name.strip(), "instructions": instructions.strip()})
        if len(clean_roles) == 2 and clean_roles[0]["name"].casefold() == clean_roles[1]["name"].casefold():
            errors.setdefault("type_config.roles", []).append("The two roles need different names.")
    out: dict[str, Any] = {"roles": clean_roles}
    for key, default in DEFAULTS.items():
        value = config.get(key, default)
        lo, hi = BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            errors[f"type_config.{key}"] = [f"A whole number from {lo} to {hi}."]
        out[key] = value
    if not errors.get("type_config.min_turns") and not errors.get("type_config.max_turns") and out["min_turns"] > out["max_turns"]:
        errors["type_config.min_turns"] = ["At most max_turns."]
    target = config.get("labelling_project")
    out["labelling_project"] = None
    if target is not None:
        project = None
        if isinstance(target, int) and not isinstance(target, bool):
            qs = Project.objects.filter(pk=target)
            if organization_id is not None:
                qs = qs.filter(organization_id=organization_id)
            project = qs.first()
        if project is None:
            errors["type_config.labelling_project"] = ["No such project of your organization."]
        elif project.task_type == Project.TaskType.CONVERSATION:
            errors["type_config.labelling_project"] = ["The labelling project cannot itself be a conversation project."]
        elif project.phase not in LABELLING_PHASES:
            errors["type_config.labelling_project"] = [
                f"The labelling project is in {project.phase}: it must be a draft (it is launched when the first "
                "dialogue arrives) or already in production."]
        else:
            shapes = {data_shape(d) for d in project.examples.values_list("data", flat=True)}
            if shapes and shapes != {data_shape({"text": ""})}:
                errors["type_config.labelling_project"] = [
                    "Its examples must be {\"text\": ...} objects: the dialogues arrive there as text."]
            out["labelling_project"] = project.pk
    if errors:
        raise ValidationError(errors)
    return out


def conversation_project_configure(*, project: Project, config: Any) -> Project:
    """Make ``project`` a conversation project with this (checked) configuration."""
    clean = conversation_config_clean(config=config, organization_id=project.organization_id)
    if project.pk == clean["labelling_project"]:
        raise ValidationError({"type_config.labelling_project": ["A project cannot label its own conversations."]})
    with transaction.atomic():
        project.task_type = Project.TaskType.CONVERSATION
        project.type_config = clean
        project.save(update_fields=["task_type", "type_config"])
    return project


def _config(project: Project) -> dict:
    return {**DEFAULTS, "labelling_project": None, "roles": [], **(project.type_config or {})}


# --- pairing --------------------------------------------------------------------------------

def _pairing_lock(project_id: int) -> None:
    if connection.vendor == "postgresql":  # SQLite runs one writer at a time anyway
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, int(project_id)])


def _mine(project: Project, annotator):
    return Conversation.objects.filter(Q(first=annotator) | Q(second=annotator), project=project, state__in=LIVE)


def conversation_join(*, project: Project, annotator) -> Conversation | None:
    """The annotator's live conversation on this project; else join the oldest one waiting for
    a partner (as role 1); else open one on a free scenario (as role 0) and wait. None when
    there is no free scenario. One transaction under the project's pairing lock."""
    now = timezone.now()
    with transaction.atomic():
        _pairing_lock(project.pk)
        _expire(Conversation.objects.filter(project=project, state__in=LIVE), _config(project), now)
        current = _mine(project, annotator).first()
        if current is not None:
            return current
        waiting = (
            Conversation.objects.select_for_update()  # waits out a poll holding the row: it must not be missed
            .filter(project=project, state=Conversation.State.WAITING).exclude(first=annotator).order_by("id").first()
        )
        if waiting is not None:
            waiting.second, waiting.second_seen_at, waiting.paired_at = annotator, now, now
            waiting.state, waiting.last_turn_at = Conversation.State.ACTIVE, now
            waiting.save(update_fields=["second", "second_seen_at", "paired_at", "state", "last_turn_at"])
            return waiting
        scenario = (
            Item.objects.select_for_update(skip_locked=True)
            .filter(project=project, is_known=False, status=Item.Status.OPEN)
            .exclude(conversations__state__in=[*LIVE, Conversation.State.FINISHED])
            .order_by("id").first()
        )
        if scenario is None:
            return None
        return Conversation.objects.create(project=project, item=scenario, first=annotator, first_seen_at=now)


# --- a conversation in progress -------------------------------------------------------------

def _role_of(conversation: Conversation, annotator) -> int:
    if conversation.first_id == annotator.pk:
        return 0
    if conversation.second_id == annotator.pk:
        return 1
    raise ValidationError({"conversation": ["This is not your conversation."]})


def _locked(conversation_id: int, annotator) -> tuple[Conversation, int]:
    conversation = Conversation.objects.select_for_update(of=("self",)).select_related("project").filter(pk=conversation_id).first()
    if conversation is None:
        raise ValidationError({"conversation": ["No such conversation."]})
    return conversation, _role_of(conversation, annotator)


def _abandon(conversation: Conversation, reason: str, now) -> None:
    Turn.objects.filter(conversation=conversation).delete()  # nothing half-written is kept
    conversation.state, conversation.ended_at, conversation.end_reason = Conversation.State.ABANDONED, now, reason
    conversation.save(update_fields=["state", "ended_at", "end_reason"])


def _timeout_reason(conversation: Conversation, config: dict, now) -> str | None:
    partner = timedelta(seconds=config["partner_seconds"])
    if conversation.state == Conversation.State.WAITING:
        if now - conversation.created_at > timedelta(seconds=config["wait_seconds"]):
            return "Nobody joined in time."
        if now - conversation.first_seen_at > partner:
            return "The first person left while waiting."
        return None
    if conversation.state != Conversation.State.ACTIVE:
        return None
    if now - conversation.first_seen_at > partner or now - (conversation.second_seen_at or now) > partner:
        return "Your partner left the conversation."
    if now - (conversation.last_turn_at or conversation.paired_at) > timedelta(seconds=config["turn_seconds"]):
        return "Nobody wrote for too long."
    return None


def _expire(qs, config: dict, now) -> int:
    n = 0
    for conversation in qs.select_for_update(skip_locked=True).order_by("id"):
        reason = _timeout_reason(conversation, config, now)
        if reason:
            _abandon(conversation, reason, now)
            n += 1
    return n


def conversation_poll(*, conversation_id: int, annotator) -> Conversation:
    """The page asking for news: records that this person is still there and applies the
    timeouts (a partner gone quiet → abandoned). Returns the conversation as it now is."""
    now = timezone.now()
    with transaction.atomic():
        conversation, role = _locked(conversation_id, annotator)
        if conversation.state in LIVE:
            field = "first_seen_at" if role == 0 else "second_seen_at"
            setattr(conversation, field, now)
            conversation.save(update_fields=[field])
            reason = _timeout_reason(conversation, _config(conversation.project), now)
            if reason:
                _abandon(conversation, reason, now)
    return conversation


def conversation_turn_add(*, conversation_id: int, annotator, text: str) -> Turn:
    """Add the annotator's turn: only while paired, only when it is their role's turn; the last
    allowed turn finishes the conversation."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["Write something before sending."]})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": [f"Keep a turn to {TEXT_MAX} characters."]})
    now = timezone.now()
    with transaction.atomic():
        conversation, role = _locked(conversation_id, annotator)
        if conversation.state != Conversation.State.ACTIVE:
            raise ValidationError({"conversation": [_not_active(conversation)]})
        position = Turn.objects.filter(conversation=conversation).count()
        if position % 2 != role:
            raise ValidationError({"text": ["Wait for your partner's turn."]})
        turn = Turn.objects.create(conversation=conversation, position=position, role=role, author=annotator, text=text)
        conversation.last_turn_at = now
        field = "first_seen_at" if role == 0 else "second_seen_at"
        setattr(conversation, field, now)
        conversation.save(update_fields=["last_turn_at", field])
        if position + 1 >= _config(conversation.project)["max_turns"]:
            _finish(conversation, position + 1, now, "The turn limit was reached.")
    return turn


def _not_active(conversation: Conversation) -> str:
    if conversation.state == Conversation.State.WAITING:
        return "Your partner has not joined yet."
    if conversation.state == Conversation.State.ABANDONED:
        return f"This conversation was abandoned: {conversation.end_reason}"
    return "This conversation is finished."


def conversation_end(*, conversation_id: int, annotator) -> Conversation:
    """Either person ends the dialogue once it has ``min_turns`` turns: it is finished."""
    now = timezone.now()
    with transaction.atomic():
        conversation, _ = _locked(conversation_id, annotator)
        if conversation.state != Conversation.State.ACTIVE:
            raise ValidationError({"conversation": [_not_active(conversation)]})
        turns = Turn.objects.filter(conversation=conversation).count()
        need = _config(conversation.project)["min_turns"]
        if turns < need:
            raise ValidationError({"conversation": [f"A dialogue needs at least {need} turns; it has {turns}."]})
        _finish(conversation, turns, now, "Ended by a participant.")
    return conversation


def conversation_leave(*, conversation_id: int, annotator) -> Conversation:
    """Leave a waiting or active conversation: it is abandoned for both (turns deleted)."""
    now = timezone.now()
    with transaction.atomic():
        conversation, _ = _locked(conversation_id, annotator)
        if conversation.state in LIVE:
            _abandon(conversation, "Your partner left the conversation." if conversation.second_id else "Left while waiting.", now)
    return conversation


def conversation_transcript(conversation: Conversation, turns=None) -> str:
    """The dialogue as text: the scenario, then one line per turn prefixed with the role's name."""
    names = [r["name"] for r in _config(conversation.project)["roles"]] or ["Person 1", "Person 2"]
    data = conversation.item.data
    scenario = data["text"] if isinstance(data, dict) and isinstance(data.get("text"), str) else str(data)
    turns = turns if turns is not None else conversation.turns.order_by("position")
    lines = [f"Scenario: {scenario}", ""] + [f"{names[t.role]}: {t.text}" for t in turns]
    return "\n".join(lines)


def _finish(conversation: Conversation, turns: int, now, reason: str) -> None:
    conversation.state, conversation.ended_at, conversation.end_reason = Conversation.State.FINISHED, now, reason
    item = Item.objects.select_for_update().get(pk=conversation.item_id)
    item.status, item.label, item.decided_at = Item.Status.ACCEPTED, "conversation", now
    item.value = {"conversation_id": conversation.pk, "turns": turns}
    item.save(update_fields=["status", "label", "decided_at", "value"])
    conversation.item = item
    target_id = _config(conversation.project)["labelling_project"]
    if target_id:
        target = Project.objects.get(pk=target_id)
        external_id = f"conversation-{conversation.pk}"
        items_upload(project=target, rows=[{"external_id": external_id, "data": {"text": conversation_transcript(conversation)}}])
        conversation.labelling_item = Item.objects.get(project=target, external_id=external_id)
        if target.status == Project.Status.DRAFT and target.phase == Project.Phase.DRAFT:
            project_launch(project=target)  # the first dialogue: the labelling pass opens by itself
    conversation.save(update_fields=["state", "ended_at", "end_reason", "labelling_item"])


def conversations_expire(*, now=None) -> int:
    """Periodic: abandon live conversations past their timeouts (pages that stopped polling)."""
    now = now or timezone.now()
    n = 0
    project_ids = Conversation.objects.filter(state__in=LIVE).values_list("project_id", flat=True).distinct()
    for project in Project.objects.filter(pk__in=list(project_ids)):
        with transaction.atomic():
            n += _expire(Conversation.objects.filter(project=project, state__in=LIVE), _config(project), now)
    return n
