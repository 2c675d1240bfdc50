"""The expert queue: an expert's label or typed value resolves an item left uncertain at the cap
(or a review-mode free-text item waiting for a reviewer)."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from tasks_app import services as task_services
from tasks_app import task_types
from tasks_app.models import Item, Project

from ..models import AnnotatorQuality, ExpertReview
from .common import posterior_of

MIN_EXPERT_CHECKS = 5


def expert_p_correct(*, project: Project, expert) -> tuple[float, str]:
    """How often this expert's label is right, as the engine knows it: their posterior on this
    project if they have at least 5 checks there; else pooled over their checks on all
    projects; else ``CADRE_EXPERT_ACCURACY`` (default 0.95: staff who review are trusted but
    not perfect — no label is assumed perfect)."""
    aq = AnnotatorQuality.objects.filter(project=project, annotator=expert).first()
    if aq is not None and aq.checks >= MIN_EXPERT_CHECKS:
        return posterior_of(aq).mean, f"expert posterior on this project ({aq.checks_correct}/{aq.checks} checks)"
    rows = list(AnnotatorQuality.objects.filter(annotator=expert).values_list("checks", "checks_correct"))
    n, k = sum(r[0] for r in rows), sum(r[1] for r in rows)
    if n >= MIN_EXPERT_CHECKS:
        return (k + 1) / (n + 2), f"expert pooled over all projects ({k}/{n} checks, Laplace)"
    default = float(getattr(settings, "CADRE_EXPERT_ACCURACY", 0.95))
    return default, f"expert default accuracy {default:.2f} (CADRE_EXPERT_ACCURACY; no check history)"


def item_expert_resolve(
    *, item_id: int, expert, label: str = "", value: Any = None, note: str = ""
) -> tuple[ExpertReview, bool]:
    """Resolve an item with an expert's answer, in one transaction: status accepted, ``label``
    (and ``value``) delivered, ``p_correct`` from the expert's standing, method recorded.

    Which items: uncertain at the cap (``exhausted``), open at the cap, and review-mode free
    text (``type_config.mode = review``: one answer, then straight to this queue). The answer
    is checked by the task type's rules (``tasks_app.task_types.answer_clean``, as an
    annotator's): single choice takes ``label``; the structured types take ``value`` and their
    canonical label is derived from it (a bad value is a ``value`` error and nothing is
    written). Accepting the annotator's answer of a review item is resolving with that same
    value; the method says whether the expert kept the item's answer or corrected it.

    Idempotent: the same answer again (same canonical label) returns the existing review
    (``created`` False); a different one is refused."""
    with transaction.atomic():
        item = Item.objects.select_for_update().select_related("project").filter(pk=item_id).first()
        if item is None or item.is_known:
            raise ValidationError({"item": ["No such item in the expert queue."]})
        project = item.project
        t, config = project.task_type, project.type_config
        if t in (task_types.SINGLE, task_types.CONVERSATION):
            if label not in project.labels:
                raise ValidationError({"label": [f"{label!r} is not one of this project's labels."]})
            value = None
        else:
            label, value = task_types.answer_clean(t, config, project.labels, None, value)
        existing = ExpertReview.objects.filter(item=item).first()
        if existing is not None:
            if existing.label == label:
                return existing, False
            raise ValidationError({"label": [f"Already resolved by an expert as {existing.label!r}."]})
        if item.status == Item.Status.ACCEPTED:
            raise ValidationError({"item": ["This item was already accepted by the engine."]})
        if item.status == Item.Status.OPEN and item.answers_count < project.max_answers:
            raise ValidationError({"item": ["This item is still collecting answers."]})
        if item.status not in (Item.Status.OPEN, Item.Status.EXHAUSTED):
            raise ValidationError({"item": [f"This item is {item.status}, not waiting for an expert."]})
        p, how = expert_p_correct(project=project, expert=expert)
        kept = item.label is not None and item.label == label
        what = "expert label" if value is None else ("expert kept the item's answer" if kept else "expert answer")
        review = ExpertReview.objects.create(
            item=item, project=project, expert=expert, label=label, value=value, p_correct=p, method=f"{what}; {how}"[:200],
            previous_status=item.status, previous_label=item.label, previous_value=item.value,
            previous_p_correct=item.p_correct, note=note,
        )
        task_services.item_decision_apply(
            item=item, status=Item.Status.ACCEPTED, label=label, p_correct=p, answers_wanted=item.answers_wanted, value=value
        )
    return review, True
