"""Project writes: create from a spec, split examples into roles, launch."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Example, Item, Organization, Project

@dataclass(frozen=True)
class ExampleIn:
    data: Any
    label: str
    explanation: str = ""
    role: str | None = None


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
    labels: Sequence[str],
    accuracy_target: float,
    confidence: float = 0.95,
    examples: Sequence[ExampleIn],
    max_answers: int = 10,
    annotator_bar: float | None = None,
    qualifier_pass_mark: float = 0.8,
    qualifier_max_attempts: int = 2,
    qualifier_wait_seconds: int = 24 * 3600,
    batch_size: int = 1000,
) -> Project:
    """Create a project with its examples. Examples without a role are split by
    :func:`example_roles_split`; each role must end up with at least one example."""
    labels = list(labels)
    errors: dict[str, list[str]] = {}
    if len(labels) < 2 or len(set(labels)) != len(labels):
        errors["labels"] = ["Give at least two distinct labels."]
    for i, ex in enumerate(examples):
        if ex.label not in labels:
            errors.setdefault("examples", []).append(f"Example {i}: label {ex.label!r} is not one of the labels.")
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
            accuracy_target=accuracy_target,
            confidence=confidence,
            max_answers=max_answers,
            annotator_bar=annotator_bar,
            qualifier_pass_mark=qualifier_pass_mark,
            qualifier_max_attempts=qualifier_max_attempts,
            qualifier_wait_seconds=qualifier_wait_seconds,
            batch_size=batch_size,
        )
        project.full_clean()
        project.save()
        rows = [
            Example(project=project, data=ex.data, label=ex.label, explanation=ex.explanation, role=role, position=i)
            for i, (ex, role) in enumerate(zip(examples, roles))
        ]
        Example.objects.bulk_create(rows)
        known = [
            Item(project=project, external_id=f"known-{ex.pk}", data=ex.data, is_known=True, known_label=ex.label)
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
