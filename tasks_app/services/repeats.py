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
  a rating task are a few minutes of other pictures. Chosen at random among their eligible
  answers (the newest ``CANDIDATES`` of them; a bounded read).
- **Answered once, offered at most ``REPEAT_OFFERS`` (3) times** (review leftover: a repeat that
  was skipped, released or left to expire used to be gone for good). An original whose repeat
  the annotator answered, or holds right now, is never offered again. One they skipped, released
  or let expire is offered again, but only once another ``CADRE_REPEAT_GAP`` of their answers
  came after that lease (the lease is older than the gap's cutoff answer), so the copy does not
  come straight back, and at most ``REPEAT_OFFERS`` leases in all. After that the item is *not
  measured* for them: no repeat, nothing counted either way. Why not a miss: a skip says nothing
  about self-consistency (an honest "broken" or "offensive" skip would count against the rater)
  and the annotator cannot tell a repeat from any item, so leaving one unanswered is no way to
  dodge the measure; why not unlimited: a copy of a broken item would come back forever.
- **Cost is flat in the annotator's history** (review leftover: it used to read all their
  answers and all their leases on the project per repeat). The gap's cutoff and the candidates
  are a backward walk of ``answer_annotator_idx`` (project, annotator, id) from their newest
  answer: ``CADRE_REPEAT_GAP`` + ``CANDIDATES`` entries plus the ones skipped as already
  repeated (at most a share of them: repeats are a minority of slots). Whether an original was
  offered is two probes per candidate (its clone through ``item_one_repeat_per_original``, the
  clone's leases through ``lease.item_id``; a clone has the leases of the few people who answered
  the original), not a read of every lease the annotator ever held. ``bench/repeats.py``.
- **Lifetime: archived when the project completes, deleted with the project** (review leftover:
  copies were kept in full forever). At completion (``phases.project_phase_advance``)
  :func:`repeats_archive` empties every clone's ``data`` — the copied payload, the only part of
  a clone that costs anything; the original keeps it and ``repeat_of`` points at it. The rows
  stay: their answers are the record of paid work (pay accrues scored repeats, possibly after
  completion) and the evidence gating decisions and appeals cite by answer id, and their leases
  are the skips ops count; deleting them would rewrite both. An archived clone keeps status
  ``repeat`` and ``is_known``, so it still reaches no export, delivery, count or customer listing.
  Should the project run again (an audit re-opens items), a clone that is served again gets its
  data back from the original first (:func:`_clone_of`).
- **Unnoticeable.** The clone has the original's data and goes through the same lease, page,
  submit and pay path as a known-answer check (which already looks like a regular item); its id
  is a new item id like any other.
"""
from __future__ import annotations

import random

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from .. import task_types
from ..models import Answer, Item, Lease, Project

CANDIDATES = 200
REPEAT_OFFERS = 3  # leases of one repeat per annotator, answered or not (module docstring)
EXTERNAL_PREFIX = "repeat-"


def repeat_gap() -> int:
    return settings.CADRE_REPEAT_GAP


def repeats_apply(project: Project) -> bool:
    """Whether this project's hidden-check slot may serve repeats (pure: no query)."""
    return task_types.scoring_kind(project.task_type, project.type_config) == task_types.SUBJECTIVE


def candidates(project: Project, annotator) -> list[int]:
    """The originals (item ids) the annotator may be shown a repeat of now, newest first, at most
    ``CANDIDATES`` (module docstring: the gap, answered-once, ``REPEAT_OFFERS``)."""
    gap = repeat_gap()
    mine = Answer.objects.filter(project=project, annotator=annotator)
    cutoff = list(mine.order_by("-id").values_list("id", "created_at")[gap:gap + 1])
    if not cutoff:
        return []  # fewer than gap + 1 answers: nothing is old enough yet
    cutoff_id, cutoff_at = cutoff[0]
    clone_leases = Lease.objects.filter(item__repeat_of_id=OuterRef("item_id"), annotator=annotator)
    offers = clone_leases.order_by().values("annotator").annotate(n=Count("id")).values("n")
    return list(
        mine.filter(id__lte=cutoff_id, is_check=False)
        # answered or held, or offered within the last gap of their answers: not now
        .exclude(Exists(clone_leases.filter(Q(state__in=(Lease.State.ACTIVE, Lease.State.SUBMITTED)) | Q(created_at__gt=cutoff_at))))
        .annotate(offers=Coalesce(Subquery(offers), 0)).filter(offers__lt=REPEAT_OFFERS)
        .order_by("-id").values_list("item_id", flat=True)[:CANDIDATES]
    )


def _original_pick(project: Project, annotator, rng: random.Random) -> int | None:
    eligible = candidates(project, annotator)
    return rng.choice(eligible) if eligible else None


def _clone_of(original_id: int) -> Item:
    clone = Item.objects.filter(repeat_of_id=original_id).first()
    if clone is not None:
        if not clone.data:  # archived at completion and the project runs again: the copy comes back
            clone.data = Item.objects.filter(pk=original_id).values_list("data", flat=True).get()
            Item.objects.filter(pk=clone.pk).update(data=clone.data)
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


def repeats_archive(project: Project) -> int:
    """Empty the copied data of the project's repeat clones (module docstring: lifetime); the
    number archived. Called when the project completes, inside its transaction."""
    return (
        Item.objects.filter(project=project, is_known=True, status=Item.STATUS_REPEAT)
        .exclude(data={}).update(data={})
    )
