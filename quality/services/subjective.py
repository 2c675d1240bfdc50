"""Quality of subjective projects (rating with ``subjective: true``, most_similar): no right
answer, so an annotator is judged by self-consistency on hidden repeats
(``tasks_app.services.repeats``) and, as a signal only, by agreement with peers.

Decisions (the issues left them open):

- **A repeat is graded against the same annotator's first answer** to the original item: the
  same candidate (most_similar) or a rating within the type's ``tolerance`` (default 0).
- **Gating** is the objective projects' graded SPRT walk (``gating.annotator_gate``: warn →
  pause → revoke, stated error rates, stored decisions with evidence, appeal, ops reinstate) on
  repeat outcomes, with the bar of each step from ``engine.subjective.consistency_bar``: the
  rater's consistency must be at least ``KAPPA_MIN`` (0.25) of the way from *their own* chance
  level (two random draws from their own answer distribution agreeing) to perfect, and at least
  the project's ``consistency_target`` when it sets one. A random rater sits at chance and is
  caught; a rater who (nearly) always gives the same answer has chance near 1, so agreeing
  proves nothing: those repeats count as misses (``answer.correct`` False) and they are caught
  too. The walk's statement (a rater truly at bar + delta is paused <= 5 %, revoked <= 1 %; one at
  bar − delta escapes <= 5 %) holds per step; the bar moves with the chance level as their
  answers accumulate.
- **Peer agreement is not a gating reason.** When a subjective item is accepted, each answer is
  compared with the leave-one-out median (ratings) or plurality (most_similar) of the others and
  the counts are kept per (project, annotator). A rater with a steady personal offset (always +1
  against the others) disagrees with peers yet is consistent: that is a legitimate subjective
  view, so peer agreement is shown to ops (and the annotator) as a warning sign, not acted on.
- **How often.** The membership's check rate after each repeat is ``engine.known_check_rate``
  on the consistency posterior (Beta(1, 1) prior, no calibration phase: there are no repeats
  before ``CADRE_REPEAT_GAP`` answers anyway) with its ceiling lowered to ``MAX_REPEAT_RATE``
  (0.3) for the uncertain; as for known-answer checks, a rater more likely below the bar than
  above gets every slot as a repeat (as many as are due) until gating settles it.
- **Revoked annotators' answers stop counting** toward a subjective item's acceptance (from the
  next decision of each item; items already accepted are not reopened).
- **The chance level comes from the annotator's newest ``CHANCE_WINDOW`` (500) regular answers**
  on the project, not from all of them (review leftover: the aggregate over their whole history
  made each repeat cost more the longer they worked). A bounded recent window rather than counts
  kept where each answer is scored: it needs no new column nor a write on every scored answer
  (the scoring hot path), and it follows the rater's current behaviour — one who drifts into
  giving the same answer every time sees their chance level, hence the bar, rise within a few
  hundred answers instead of being diluted by months of varied ones. 500 answers put the chance
  level's standard error at ~0.01–0.02 for a 1–5 scale, well inside the bar's margin.
- **Cost.** Per repeat: one backward walk of ``answer_annotator_idx`` (project, annotator, id) of
  at most ``CHANCE_WINDOW`` entries for the chance level, flat as history grows
  (``bench/repeats.py``); per accepted item: one update per answer.
"""
from __future__ import annotations

from collections import Counter

from django.db.models import F

from tasks_app import task_types
from tasks_app.models import Answer, Item, Project
from workforce import services as workforce_services
from workforce.models import Membership

from .. import engine
from ..engine import sprt
from ..engine import subjective as subj
from ..models import SubjectiveQuality
from .common import ScoreOutcome
from .gating import annotator_gate

MAX_REPEAT_RATE = 0.3
CHANCE_WINDOW = 500  # newest regular answers the chance level is read from (module docstring)
MODEL_VERSION = "subjective-consistency-1"


def tolerance_of(project: Project) -> float:
    return float(project.type_config.get("tolerance") or 0) if project.task_type == task_types.RATING else 0.0


def answer_point(project: Project, label: str):
    """An answer's label as the engine compares it: a number on a rating scale, else the text."""
    if project.task_type == task_types.RATING:
        v = float(label)
        return int(v) if v.is_integer() else v
    return label


def _row(project: Project, annotator_id: int, *, lock: bool) -> SubjectiveQuality:
    qs = SubjectiveQuality.objects.filter(project=project, annotator_id=annotator_id)
    row = (qs.select_for_update() if lock else qs).first()
    if row is None:
        SubjectiveQuality.objects.get_or_create(project=project, annotator_id=annotator_id)
        row = (qs.select_for_update() if lock else qs).get()
    return row


def _own_chance(project: Project, annotator_id: int, tolerance: float) -> float:
    """Chance self-agreement from the annotator's newest ``CHANCE_WINDOW`` regular answers."""
    labels = (
        Answer.objects.filter(project=project, annotator_id=annotator_id, is_check=False)
        .order_by("-id").values_list("label", flat=True)[:CHANCE_WINDOW]
    )
    dist: Counter = Counter(answer_point(project, label) for label in labels)
    return subj.chance_self(dist, tolerance)


def consistency_posterior(row: SubjectiveQuality) -> engine.AnnotatorPosterior:
    k, n = row.repeats_credited, row.repeats
    return engine.AnnotatorPosterior(alpha=1.0 + k, beta=1.0 + n - k, checks=n, correct=k)


def _design(bar: float) -> sprt.SprtDesign:
    """The walk's step for this bar: p0 = bar + delta, p1 = bar - delta, delta = min(0.10,
    (1 - bar) / 2) (the objective design's zone, without its chance term: p1 may lie below the
    rater's chance level, which only makes a chance-level rater climb faster)."""
    return sprt.SprtDesign(bar=bar, delta=min(sprt.MAX_DELTA, (1 - bar) / 2, bar / 2))


def repeat_score(answer: Answer, project: Project) -> ScoreOutcome:
    """A hidden check of a subjective project: a repeat is graded against the annotator's first
    answer and moves gating; a customer's reference item (a plain known item) stays ungraded."""
    original_id = Item.objects.filter(pk=answer.item_id).values_list("repeat_of_id", flat=True).get()
    first = None
    if original_id is not None:
        first = Answer.objects.filter(item_id=original_id, annotator_id=answer.annotator_id).values_list("label", flat=True).first()
    if first is None:
        answer.correct = None
        return ScoreOutcome(True, "check", "subjective: not graded")
    tol = tolerance_of(project)
    agreed = subj.agrees(answer_point(project, first), answer_point(project, answer.label), tol)
    membership = (
        Membership.objects.select_for_update(of=("self",), no_key=True).select_related("project", "annotator")
        .filter(project=project, annotator_id=answer.annotator_id).first()
    )
    row = _row(project, answer.annotator_id, lock=True)
    chance = _own_chance(project, answer.annotator_id, tol)
    cb = subj.consistency_bar(chance, project.type_config.get("consistency_target"))
    answer.correct = bool(agreed and cb.informative)
    row.repeats += 1
    row.repeats_consistent += int(agreed)
    row.repeats_credited += int(answer.correct)
    row.chance = chance
    row.save(update_fields=["repeats", "repeats_consistent", "repeats_credited", "chance", "updated_at"])
    if membership is None:
        return ScoreOutcome(True, "check", "no membership")
    post = consistency_posterior(row)
    design = _design(cb.bar)
    lo, hi = sprt.wilson_interval(row.repeats_consistent, row.repeats)
    facts = (
        f"{row.repeats_consistent} of {row.repeats} repeated items answered as the first time"
        + ("" if row.repeats_credited == row.repeats_consistent else f" ({row.repeats_credited} counted: agreeing by chance is "
                                                                    f"near-certain for answers that hardly vary)")
        + f"; consistency {row.repeats_consistent / row.repeats:.0%} (95 % interval {lo:.0%}-{hi:.0%}); by chance "
          f"{chance:.0%}; bar {cb.bar:.0%}"
    )
    extra = {"measure": "self-consistency on hidden repeats", "chance": round(chance, 4), "agreed": agreed,
             "informative": cb.informative, "consistency_rule": MODEL_VERSION, "kappa_min": subj.KAPPA_MIN,
             "repeats": row.repeats, "repeats_consistent": row.repeats_consistent}
    standing = annotator_gate(project=project, membership=membership, post=post, answer=answer, bar=cb.bar,
                              design=design, facts=facts, extra_evidence=extra)
    rate = engine.known_check_rate(post, bar=cb.bar, calibration_checks=0, ceiling=MAX_REPEAT_RATE)
    workforce_services.membership_check_rate_set(membership=membership, rate=rate)
    return ScoreOutcome(True, "check", standing)


def counted_rows(project: Project, rows: list[tuple]) -> list[tuple]:
    """The (annotator_id, label, value) rows of an item that count toward its acceptance: not
    those of annotators revoked on the project."""
    revoked = set(
        Membership.objects.filter(project=project, annotator_id__in={r[0] for r in rows}, standing=Membership.Standing.REVOKED)
        .values_list("annotator_id", flat=True)
    ) if rows else set()
    return [r for r in rows if r[0] not in revoked]


def peer_agreement_record(project: Project, rows: list[tuple]) -> None:
    """An accepted item's answers against the others' (leave-one-out), added to each
    annotator's counts; rows of annotators in id order (the lock order)."""
    tol = tolerance_of(project)
    points = [answer_point(project, label) for _, label, _ in rows]
    scores = subj.leave_one_out(points, ordinal=project.task_type == task_types.RATING, tolerance=tol)
    by_annotator = sorted(zip((r[0] for r in rows), scores))
    for annotator_id, score in by_annotator:
        if not SubjectiveQuality.objects.filter(project=project, annotator_id=annotator_id).update(
                peer_n=F("peer_n") + 1, peer_agree=F("peer_agree") + score):
            SubjectiveQuality.objects.get_or_create(project=project, annotator_id=annotator_id)
            SubjectiveQuality.objects.filter(project=project, annotator_id=annotator_id).update(
                peer_n=F("peer_n") + 1, peer_agree=F("peer_agree") + score)
