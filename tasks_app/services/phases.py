"""Project phases: draft → pilot → pilot review → production → complete, and spec revisions.

``Project.status`` stays the switch "annotators may work" (live in pilot and production, draft
while the customer reviews the pilot, complete at the end); ``Project.phase`` says where the
project is, and only these services change either. Items beyond the pilot wait in the
``held`` status, which the lease query never picks (it only picks ``open``), so the pilot
needs no change to the hot path; approving the pilot opens them.

``project_phase_advance`` is what moves a project on by itself (pilot done → pilot review,
every N decided items → a batch, everything decided → complete); the periodic task
``tasks_app.phases_advance`` calls it for every live project, and anything else (e.g. the
acceptance path) may enqueue ``tasks_app.project_phase_advance`` with a project id.
"""
from __future__ import annotations

from typing import Any, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import task_types
from ..models import DeliveryBatch, Example, Item, Project, SpecRevision
from .deliveries import batch_cut
from .repeats import repeats_archive
from .webhooks import event_emit

MAX_PILOT = 100_000


def _regular(project: Project):
    return Item.objects.filter(project=project, is_known=False)


def _open_next(project: Project, n: int) -> int:
    """Open the first ``n`` held items (upload order)."""
    ids = list(_regular(project).filter(status=Item.Status.HELD).order_by("id").values_list("id", flat=True)[:n])
    return Item.objects.filter(pk__in=ids).update(status=Item.Status.OPEN)


def project_pilot_start(*, project: Project, size: int) -> Project:
    """Start the pilot: the first ``size`` items (upload order) are worked on, the rest held."""
    if not 1 <= size <= MAX_PILOT:
        raise ValidationError({"size": [f"Give a pilot size between 1 and {MAX_PILOT}."]})
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.phase != Project.Phase.DRAFT:
            raise ValidationError({"phase": [f"A pilot starts from draft; the project is in {project.phase}."]})
        regular = _regular(project)
        if not regular.exists():
            raise ValidationError({"items": ["Upload at least one item before starting the pilot."]})
        cut = regular.order_by("id").values_list("id", flat=True)[size - 1 : size]
        last = cut[0] if cut else None
        if last is not None:
            regular.filter(id__gt=last, status=Item.Status.OPEN).update(status=Item.Status.HELD)
        project.phase = Project.Phase.PILOT
        project.pilot_size = size
        project.status = Project.Status.LIVE
        project.launched_at = project.launched_at or timezone.now()
        project.save(update_fields=["phase", "pilot_size", "status", "launched_at"])
    return project


def project_pilot_approve(*, project: Project) -> Project:
    """The customer approves the pilot: production starts, held items open."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.phase != Project.Phase.PILOT_REVIEW:
            raise ValidationError({"phase": [f"Only a pilot under review can be approved; the project is in {project.phase}."]})
        _regular(project).filter(status=Item.Status.HELD).update(status=Item.Status.OPEN)
        project.phase = Project.Phase.PRODUCTION
        project.status = Project.Status.LIVE
        project.save(update_fields=["phase", "status"])
    return project


def _snapshot(project: Project) -> dict[str, Any]:
    return {
        "instructions": project.instructions,
        "labels": list(project.labels),
        "examples": [
            {"data": e.data, "label": e.label, "explanation": e.explanation, "role": e.role,
             **({"value": e.value} if e.value is not None else {})}  # structured task types (issue 6)
            for e in project.examples.order_by("position", "id")
        ],
    }


def project_spec_revise(
    *,
    project: Project,
    instructions: str | None = None,
    labels_added: Sequence[str] = (),
    examples_added: Sequence[dict[str, Any]] = (),
    material: bool = False,
    note: str = "",
    rerun_pilot: bool = False,
) -> SpecRevision:
    """A new version of the spec. Earlier versions stay readable (``SpecRevision``; version 1
    is stored the first time). Labels can be added, never removed or renamed (answers and
    deliveries refer to them); examples can be added (role tutorial/qualifier/known; a known
    one becomes a hidden known-answer item). ``material``: annotators qualified on an earlier
    version must qualify again (``requalify_from_version`` = the new version; the workforce
    app enforces it). ``rerun_pilot`` (only under pilot review): the next ``pilot_size``
    held items become a new pilot under the revised spec."""
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.phase == Project.Phase.COMPLETE:
            errors["phase"] = ["The project is complete; its spec can no longer change."]
        if rerun_pilot and project.phase != Project.Phase.PILOT_REVIEW:
            errors["rerun_pilot"] = ["A pilot can be re-run only while the previous one is under review."]
        labels = list(project.labels)
        new_labels = [lab for lab in labels_added if lab not in labels]
        if len(set(new_labels)) != len(new_labels):
            errors["labels_added"] = ["Labels must be distinct."]
        all_labels = labels + new_labels
        answers: list[tuple[str, Any]] = []
        if new_labels and project.task_type in (task_types.RATING, task_types.TEXT, task_types.SIMILAR):
            errors["labels_added"] = ["This task type's labels are derived from its settings: none can be added."]
        for i, ex in enumerate(examples_added):
            if project.task_type == Project.TaskType.SINGLE_CHOICE:
                if ex.get("label") not in all_labels:
                    errors.setdefault("examples_added", []).append(f"Example {i}: label {ex.get('label')!r} is not one of the labels.")
                answers.append((ex.get("label"), None))
                continue
            try:  # the task type's rules (tasks_app.task_types), as at creation
                answers.append(task_types.example_clean(project.task_type, project.type_config, all_labels,
                                                        ex.get("label"), ex.get("value"), ex.get("data"), field="examples_added"))
            except ValidationError as exc:
                errors.setdefault("examples_added", []).extend(f"Example {i}: {m}" for m in exc.messages)
            if ex.get("role") not in Example.Role.values:
                errors.setdefault("examples_added", []).append(f"Example {i}: role must be one of {', '.join(Example.Role.values)}.")
        if instructions is None and not new_labels and not examples_added:
            errors["non_field_errors"] = ["Nothing to revise: give instructions, labels_added or examples_added."]
        if errors:
            raise ValidationError(errors)
        if not project.spec_revisions.exists():
            SpecRevision.objects.create(project=project, version=project.spec_version, note="As created.", **_snapshot(project))
        if instructions is not None:
            project.instructions = instructions
        project.labels = all_labels
        position = (project.examples.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        for i, (ex, (label, value)) in enumerate(zip(examples_added, answers)):
            e = Example.objects.create(project=project, data=ex["data"], label=label, value=value,
                                       explanation=ex.get("explanation", ""), role=ex["role"], position=position + i)
            if e.role == Example.Role.KNOWN:
                Item.objects.create(project=project, external_id=f"known-{e.pk}", data=e.data, is_known=True,
                                    known_label=e.label, known_value=e.value)
        project.spec_version += 1
        fields = ["instructions", "labels", "spec_version"]
        if material:
            project.requalify_from_version = project.spec_version
            fields.append("requalify_from_version")
        if rerun_pilot:
            _open_next(project, project.pilot_size)
            project.phase = Project.Phase.PILOT
            project.status = Project.Status.LIVE
            fields += ["phase", "status"]
        project.save(update_fields=fields)
        revision = SpecRevision.objects.create(
            project=project, version=project.spec_version, material=material, note=note, **_snapshot(project)
        )
    return revision


def project_phase_advance(*, project_id: int) -> str:
    """Move the project on when its work says so; returns what happened (for logs/tests).

    pilot with no open item left → cut the pilot batch, phase pilot review, status draft
    (annotators stop; the ``pilot.ready`` webhook goes out when the batch is certified);
    production → cut a batch once ``batch_size`` decided items wait; with no open or held item
    left → cut the final batch, phase complete, status complete, ``project.complete`` webhook —
    except a conversation's labelling project while that conversation project still runs (its
    next dialogues would arrive in a complete project): "waiting for dialogues".
    """
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(pk=project_id).first()
        if project is None:
            return "gone"
        regular = _regular(project)
        if project.phase == Project.Phase.PILOT:
            if regular.filter(status=Item.Status.OPEN).exists():
                return "pilot running"
            batch_cut(project=project, kind=DeliveryBatch.Kind.PILOT, allow_empty=True)
            project.phase = Project.Phase.PILOT_REVIEW
            project.status = Project.Status.DRAFT
            project.save(update_fields=["phase", "status"])
            return "pilot ready"
        if project.phase != Project.Phase.PRODUCTION:
            return "nothing to do"
        if not regular.filter(status__in=[Item.Status.OPEN, Item.Status.HELD]).exists():
            if _feeds_running_conversations(project):
                return "waiting for dialogues"
            batch_cut(project=project, kind=DeliveryBatch.Kind.FINAL)
            project.phase = Project.Phase.COMPLETE
            project.status = Project.Status.COMPLETE
            project.save(update_fields=["phase", "status"])
            repeats_archive(project)  # hidden repeats' copied data goes (repeats.py: lifetime)
            event_emit(project=project, event="project.complete", payload={
                "project": project.pk, "batches": project.delivery_batches.count(),
                "items": regular.count(),
            })
            return "complete"
        if project.batch_size:
            from .deliveries import undelivered

            if undelivered(project).values("id")[: project.batch_size].count() >= project.batch_size:
                batch_cut(project=project, kind=DeliveryBatch.Kind.INCREMENTAL)
                return "batch"
        return "running"


def _feeds_running_conversations(project: Project) -> bool:
    """Whether ``project`` is the labelling project of a conversation project still running
    (pilot, pilot review or production): more transcripts will come, so it is not complete yet."""
    return Project.objects.filter(
        task_type=Project.TaskType.CONVERSATION, type_config__labelling_project=project.pk,
        phase__in=[Project.Phase.PILOT, Project.Phase.PILOT_REVIEW, Project.Phase.PRODUCTION],
    ).exists()


def projects_advance() -> dict[str, int]:
    """``project_phase_advance`` for every project in pilot or production (periodic task)."""
    out: dict[str, int] = {}
    ids = list(Project.objects.filter(phase__in=[Project.Phase.PILOT, Project.Phase.PRODUCTION]).values_list("id", flat=True))
    for pk in ids:
        what = project_phase_advance(project_id=pk)
        out[what] = out.get(what, 0) + 1
    return out
