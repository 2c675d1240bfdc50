"""Ops reads for review work: the expert queue and the flagged answer keys."""
from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from tasks_app.models import Answer, Item, Project

from ..models import KnownAnswerFlag


def expert_queue(*, project: Project, limit: int = 100) -> list[dict[str, Any]]:
    """Items left uncertain at the cap (``exhausted``), plus open items already at the cap,
    that no expert has resolved yet: with their answers' votes and the engine's best guess."""
    items = list(
        Item.objects.filter(project=project, is_known=False, expert_review__isnull=True)
        .filter(Q(status=Item.Status.EXHAUSTED) | Q(status=Item.Status.OPEN, answers_count__gte=project.max_answers))
        .order_by("id")[:limit]
    )
    votes: dict[int, dict[str, int]] = {}
    for item_id, label, n in (
        Answer.objects.filter(item__in=items).values_list("item_id", "label").annotate(n=Count("id"))
    ):
        votes.setdefault(item_id, {})[label] = n
    return [{"item": it, "votes": sorted(votes.get(it.pk, {}).items(), key=lambda kv: -kv[1])} for it in items]


def known_flags(*, project: Project, open_only: bool = False) -> list[KnownAnswerFlag]:
    qs = KnownAnswerFlag.objects.filter(project=project).select_related("item", "resolved_by")
    if open_only:
        qs = qs.filter(status=KnownAnswerFlag.Status.OPEN)
    return list(qs[:200])
