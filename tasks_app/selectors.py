"""Reads of tasks_app that upper apps' pages use (writes are in ``services``)."""
from __future__ import annotations

from django.db.models import Count

from .models import Answer, Conversation, Lease, Project


def skip_counts(*, project_ids=None) -> list[dict]:
    """Skips per project and reason, most first: ``[{project_id, project_name, reason,
    reason_label, count}]`` (one grouped query on the partial index ``lease_skip_idx``)."""
    qs = Lease.objects.filter(state=Lease.State.SKIPPED)
    if project_ids is not None:
        qs = qs.filter(project_id__in=project_ids)
    labels = dict(Lease.SkipReason.choices)
    rows = qs.values("project_id", "project__name", "skip_reason").annotate(n=Count("id")).order_by("-n", "project_id")
    return [
        {"project_id": r["project_id"], "project_name": r["project__name"], "reason": r["skip_reason"],
         "reason_label": labels.get(r["skip_reason"], r["skip_reason"]), "count": r["n"]}
        for r in rows
    ]


def skip_notes_recent(*, limit: int = 20) -> list[Lease]:
    """The latest "other" skips with the annotators' words (for ops to spot broken items)."""
    return list(
        Lease.objects.filter(state=Lease.State.SKIPPED, skip_reason=Lease.SkipReason.OTHER)
        .select_related("project", "item").order_by("-id")[:limit]
    )


def conversations_finished(*, project: Project):
    """A conversation project's finished dialogues, oldest first, with their turns (API)."""
    return (
        Conversation.objects.filter(project=project, state=Conversation.State.FINISHED)
        .select_related("item", "labelling_item").prefetch_related("turns").order_by("id")
    )


def graded_known_checks():
    """Scored hidden checks against a known answer: what an annotator's *accuracy* is measured on
    (the ranking model's history, the audience's platform-wide accuracy). Subjective projects'
    hidden repeats (``Item.repeat_of``) are checks too, but they measure self-consistency, a
    different quantity: left out here."""
    return Answer.objects.filter(is_check=True, correct__isnull=False, item__repeat_of__isnull=True)

