"""Hidden repeats for subjective projects (issue 4 "Subjective tasks", issue 6): the same item
shown again to the same annotator later, so the quality engine can measure self-consistency
(``quality.services.subjective``) where no answer is right or wrong.

Design (decisions the issues left open):

- **A repeat is a clone.** ``Answer`` is unique per (item, annotator), and deliveries, counts,
  pay and exports rely on it, so a repeat is not a second answer to the original: it is an answer
  to a hidden *clone* of it — an ``Item`` with ``repeat_of`` = the original, the same ``data``,
  ``is_known`` (so every customer-facing query, which reads regular items only, ignores it:
  deliveries, exports, the items API, progress and queue counts) and status ``repeat`` (so
  neither pick query — both read ``status = 'open'`` — ever hands it out by itself). Its empty
  ``known_label`` is never graded: the repeat answer is compared with the same annotator's own
  earlier answer. External id ``repeat-<original id>`` (reserved for customers' uploads, seen by
  ops only).
- **Lazily, one per original.** The clone is created the first time someone is due a repeat of
  that item, and reused by every annotator who answered it (a unique constraint on
  ``repeat_of``; a concurrent creator gets the existing row).
- **When.** Only in subjective projects (``task_types.scoring_kind`` = subjective), only in the
  hidden-check slot of ``leases.lease_next`` (the membership's ``known_check_rate``, which the
  quality engine sets from the annotator's consistency evidence for these projects), only for an
  item the annotator answered at least ``CADRE_REPEAT_GAP`` (default 10) of their own answers on
  the project earlier — a count, not a time, so a fast worker does not see a repeat while the
  original is still on screen in their memory, and a slow one is not made to wait; 10 answers of
  a rating task are a few minutes of other pictures. Each original is repeated to an annotator at
  most once (any lease on its clone, answered, skipped, expired or released, counts), chosen at
  random among their eligible answers (the newest ``CANDIDATES`` of them; a bounded read).
- **Unnoticeable.** The clone has the original's data and goes through the same lease, page,
  submit and pay path as a known-answer check (which already looks like a regular item); its id
  is a new item id like any other.
"""
from __future__ import annotations

import random

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from .. import task_types
from ..models import Answer, Item, Lease, Project

CANDIDATES = 200
EXTERNAL_PREFIX = "repeat-"


def repeat_gap() -> int:
    return settings.CADRE_REPEAT_GAP


def repeats_apply(project: Project) -> bool:
    """Whether this project's hidden-check slot may serve repeats (pure: no query)."""
    return task_types.scoring_kind(project.task_type, project.type_config) == task_types.SUBJECTIVE


def _original_pick(project: Project, annotator, rng: random.Random) -> int | None:
    gap = repeat_gap()
    mine = Answer.objects.filter(project=project, annotator=annotator)
    cutoff = list(mine.order_by("-id").values_list("id", flat=True)[gap:gap + 1])
    if not cutoff:
        return None  # fewer than gap + 1 answers: nothing is old enough yet
    seen = Lease.objects.filter(project=project, annotator=annotator, item__repeat_of__isnull=False).values("item__repeat_of_id")
    candidates = list(
        mine.filter(id__lte=cutoff[0], is_check=False).exclude(item_id__in=seen)
        .order_by("-id").values_list("item_id", flat=True)[:CANDIDATES]
    )
    return rng.choice(candidates) if candidates else None


def _clone_of(original_id: int) -> Item:
    clone = Item.objects.filter(repeat_of_id=original_id).first()
    if clone is not None:
        return clone
    original = Item.objects.get(pk=original_id)
    try:
        with transaction.atomic():  # a savepoint: a concurrent creator wins, we read theirs
            return Item.objects.create(
                project_id=original.project_id, external_id=f"{EXTERNAL_PREFIX}{original.pk}", data=original.data,
                is_known=True, known_label="", status=Item.STATUS_REPEAT, repeat_of=original, answers_wanted=0,
            )
    except IntegrityError:
        return Item.objects.get(repeat_of_id=original_id)


def repeat_take(project: Project, annotator, *, rng: random.Random) -> Item | None:
    """A repeat item for this annotator's next lease, or None when none is due (the caller,
    inside ``lease_next``'s transaction, then serves the slot as before). Counts the lease on the
    clone (``assigned + 1``, given back when the lease closes) like any pick."""
    original_id = _original_pick(project, annotator, rng)
    if original_id is None:
        return None
    clone = _clone_of(original_id)
    Item.objects.filter(pk=clone.pk).update(assigned=F("assigned") + 1)
    clone.assigned += 1
    return clone
