"""Project writes: create from a spec, split examples into roles, launch."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import task_types
from ..models import Example, Item, Organization, Project


@dataclass(frozen=True)
class ExampleIn:
    data: Any
    label: str | None = None
    explanation: str = ""
    role: str | None = None
    value: Any = None  # the correct answer of a structured task type (tasks_app.task_types)


def example_roles_split(n: int) -> list[str]:
    """Roles for ``n`` examples whose role the customer left empty, in their order.

    The split: the first 20 % (at least 1) teach (tutorial), the next 30 % (at least 1)
    grade (qualifier), the rest (at least 1) become hidden known-answer items, which are
    the evidence for annotator accuracy and for the delivery's accuracy claim, so they get
    the largest share. With fewer than 3 examples the split is impossible; project
    creation requires at least 3.
    """
    if n < 3:
        raise ValueError("at least 3 examples are needed to split them")
    n_tut = max(1, math.floor(n * 0.2))
    n_qual = max(1, math.floor(n * 0.3))
    n_known = n - n_tut - n_qual
    if n_known < 1:  # n == 3 or 4 rounding
        n_qual = max(1, n_qual - 1)
        n_known = n - n_tut - n_qual
    return ["tutorial"] * n_tut + ["qualifier"] * n_qual + ["known"] * n_known


def project_create(
    *,
    organization: Organization,
    name: str,
    instructions: str,
    labels: Sequence[str] = (),
    accuracy_target: float,
    confidence: float = 0.95,
    examples: Sequence[ExampleIn],
    max_answers: int = 10,
    annotator_bar: float | None = None,
    qualifier_pass_mark: float = 0.8,
    qualifier_max_attempts: int = 2,
    qualifier_wait_seconds: int = 24 * 3600,
    batch_size: int = 1000,
    task_type: str = Project.TaskType.SINGLE_CHOICE,
    type_config: dict | None = None,
) -> Project:
    """Create a project with its examples. Examples without a role are split by
    :func:`example_roles_split`; each role must end up with at least one example.

    ``task_type`` and ``type_config`` are checked by ``tasks_app.task_types.config_clean``
    (which also derives the labels of a rating scale or a most-similar task); each example's
    correct answer (``label``, or ``value`` for structured types) and its data by ``example_clean``."""
    labels = list(labels)
    errors: dict[str, list[str]] = {}
    answers: list[tuple[str, Any]] = []
    if task_type == Project.TaskType.SINGLE_CHOICE:
        if len(labels) < 2 or len(set(labels)) != len(labels):
            errors["labels"] = ["Give at least two distinct labels."]
        if type_config:
            errors["type_config"] = ["Single choice takes no settings: leave type_config out."]
        type_config = {}
        for i, ex in enumerate(examples):
            if ex.label not in labels:
                errors.setdefault("examples", []).append(f"Example {i}: label {ex.label!r} is not one of the labels.")
            answers.append((ex.label, None))
    else:
        type_config, labels = task_types.config_clean(task_type, type_config, labels, organization_id=organization.pk)
        for i, ex in enumerate(examples):
            try:
                answers.append(task_types.example_clean(
                    task_type, type_config, labels, ex.label, ex.value, ex.data, field="examples"
                ))
            except ValidationError as exc:
                errors.setdefault("examples", []).extend(f"Example {i}: {m}" for m in exc.messages)
    if len(examples) < 3:
        errors.setdefault("examples", []).append("Give at least 3 examples (tutorial, qualifier, known answers).")
    if errors:
        raise ValidationError(errors)

    # Examples without a role are split by example_roles_split when there are at least 3 of
    # them; fewer unassigned examples (the customer set most roles) become known-answer items.
    unassigned = sum(1 for ex in examples if not ex.role)
    auto = example_roles_split(unassigned) if unassigned >= 3 else []
    roles: list[str] = []
    auto_iter = iter(auto)
    for ex in examples:
        if ex.role:
            roles.append(ex.role)
        else:
            roles.append(next(auto_iter, "known"))
    missing = {"tutorial", "qualifier", "known"} - set(roles)
    if missing:
        raise ValidationError({"examples": [f"No example has the role(s): {', '.join(sorted(missing))}."]})

    with transaction.atomic():
        project = Project(
            organization=organization,
            name=name,
            instructions=instructions,
            labels=labels,
            task_type=task_type,
            type_config=type_config,
            accuracy_target=accuracy_target,
            confidence=confidence,
            max_answers=max_answers,
            annotator_bar=annotator_bar,
            qualifier_pass_mark=qualifier_pass_mark,
            qualifier_max_attempts=qualifier_max_attempts,
            qualifier_wait_seconds=qualifier_wait_seconds,
            batch_size=batch_size,
        )
        project.full_clean(exclude=None if labels else ["labels"])  # free text has no label list
        project.save()
        rows = [
            Example(project=project, data=ex.data, label=label, value=value, explanation=ex.explanation, role=role, position=i)
            for i, (ex, role, (label, value)) in enumerate(zip(examples, roles, answers))
        ]
        Example.objects.bulk_create(rows)
        known = [
            Item(project=project, external_id=f"known-{ex.pk}", data=ex.data, is_known=True, known_label=ex.label,
                 known_value=ex.value)
            for ex in rows
            if ex.role == Example.Role.KNOWN
        ]
        Item.objects.bulk_create(known)
    return project


def project_launch(*, project: Project) -> Project:
    """Open the project to annotators. Needs at least one item to label."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.status == Project.Status.LIVE:
            return project
        if project.status == Project.Status.COMPLETE:
            raise ValidationError({"status": ["The project is complete; it cannot be launched again."]})
        if project.phase in (Project.Phase.PILOT, Project.Phase.PILOT_REVIEW):
            raise ValidationError({"phase": ["The project is in its pilot: approve the pilot to start production."]})
        if not project.items.filter(is_known=False).exists():
            raise ValidationError({"items": ["Upload at least one item before launching."]})
        project.status = Project.Status.LIVE
        project.launched_at = timezone.now()
        # Launching without a pilot goes straight to production (tasks_app.services.phases).
        project.phase = Project.Phase.PRODUCTION
        project.save(update_fields=["status", "launched_at", "phase"])
    return project
