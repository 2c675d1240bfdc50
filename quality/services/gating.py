"""Gating an annotator after a hidden check: the SPRT walk (``quality.engine.sprt``), the
graded decision, and its stored evidence (kept for appeals: reason, checks, interval, test
statistic, the check answers it rested on, the model version). Caller holds the membership
and quality-row locks, inside the scoring transaction."""
from __future__ import annotations

from tasks_app.models import Answer, Project
from workforce import services as workforce_services
from workforce.models import Membership

from .. import engine
from ..engine import sprt
from ..models import GatingDecision, GatingState

EVIDENCE_CHECKS = 30  # the latest check answers listed in a decision's evidence
FALLBACK_VERSION = "posterior-threshold-1"


def _state(project: Project, membership: Membership) -> GatingState:
    """The walk's row, locked (the caller already holds the membership lock, so two checks of
    the same annotator cannot race to create it)."""
    st = GatingState.objects.select_for_update().filter(project=project, annotator_id=membership.annotator_id).first()
    if st is None:
        st, _ = GatingState.objects.get_or_create(project=project, annotator_id=membership.annotator_id)
    return st


def _recent_checks(project: Project, annotator_id: int) -> list[list]:
    rows = (
        Answer.objects.filter(project=project, annotator_id=annotator_id, is_check=True, correct__isnull=False)
        .order_by("-id")
        .values_list("id", "item_id", "correct")[:EVIDENCE_CHECKS]
    )
    return [[a, i, bool(c)] for a, i, c in rows]


def annotator_gate(
    *, project: Project, membership: Membership, post: engine.AnnotatorPosterior, answer: Answer, bar: float,
    design: sprt.SprtDesign | None = None, facts: str | None = None, extra_evidence: dict | None = None,
    batch: GateBatch | None = None,
) -> str:
    """Walk one step with this check's outcome, decide, store a changed decision with its
    evidence, and set the membership's standing. Returns the standing. ``design``, ``facts``,
    ``extra_evidence``: for subjective projects (``services.subjective``), whose bar and wording
    come from self-consistency on repeats. ``batch``: the drain's checks
    (``checks._score_checks``): the walk's row and the membership's reason are written by the
    caller once for the batch instead of here per check (:class:`GateBatch`)."""
    if design is None:
        try:
            design = sprt.design_for(bar, len(project.labels))
        except ValueError:
            design = None
    if design is None:  # a customer bar at or below chance: only the posterior rule makes sense
        if membership.standing == Membership.Standing.PAUSED:
            return membership.standing
        old = engine.gate(post, bar=bar, standing=membership.standing)
        _record(project, membership, post, answer, bar, old.standing, old.reason, old.changed, FALLBACK_VERSION, {}, batch)
        return old.standing
    st = batch.states.get(membership.annotator_id) if batch is not None else None
    if st is None:
        st = _state(project, membership)
        if batch is not None:
            batch.states[membership.annotator_id] = st
    note = ""
    if st.standing == Membership.Standing.REVOKED and membership.standing != Membership.Standing.REVOKED:
        st.llr, note = 0.0, "reinstated by ops: the test restarted from 0"
    elif st.standing == Membership.Standing.PAUSED and membership.standing != Membership.Standing.PAUSED:
        note = "back from the tutorial: the test continues from where it stood"
    st.llr = sprt.sprt_step(design, st.llr, bool(answer.correct))
    dec = sprt.gate_sprt(
        design, llr=st.llr, standing=membership.standing, pauses=st.pauses, post=post, confidence=project.confidence,
        facts=facts,
    )
    st.pauses, st.standing, st.model_version = dec.pauses, dec.standing, design.version
    if batch is None:
        st.save(update_fields=["llr", "pauses", "standing", "model_version", "updated_at"])
    evidence = dict(dec.evidence, answer_id=answer.pk, correct_now=bool(answer.correct), **(extra_evidence or {}))
    if note:
        evidence["note"] = note
    _record(project, membership, post, answer, bar, dec.standing, dec.reason, dec.changed, design.version, evidence, batch)
    return dec.standing


class GateBatch:
    """Deferred writes of gating over a batch of checks (the drain's, ``checks._score_checks``,
    inside its transaction, every row already locked): ``states`` holds each annotator's walk as
    read once (``hot_sql.gating_states_locked``) and moved in memory, ``members`` the memberships
    whose standing reason changed; the caller writes both once at the end. ``flush`` writes the
    batch's answers scored so far: a changed decision lists the annotator's earlier checks in its
    evidence (``_recent_checks``), which must see them as one-by-one scoring would. Standing
    changes are never deferred (history, lease release)."""

    def __init__(self, states: dict, flush) -> None:
        self.states = states
        self.members: dict[int, Membership] = {}
        self.flush = flush


def _record(project, membership, post, answer, bar, standing, reason, changed, version, evidence, batch=None) -> None:
    if changed:
        if batch is not None:
            batch.flush()
        lo, hi = post.interval(project.confidence)
        evidence = dict(evidence, checks_listed=_recent_checks(project, membership.annotator_id))
        GatingDecision.objects.create(
            project=project,
            annotator_id=membership.annotator_id,
            answer_id=answer.pk,
            standing=standing,
            previous_standing=membership.standing,
            reason=reason,
            checks=post.checks,
            checks_correct=post.correct,
            accuracy=post.mean,
            accuracy_lower=lo,
            accuracy_upper=hi,
            bar=bar,
            model_version=version,
            evidence=evidence,
        )
        workforce_services.membership_standing_set(membership=membership, standing=standing, reason=reason)
    elif reason != membership.standing_reason and standing == membership.standing:
        membership.standing_reason = reason
        if batch is not None:
            batch.members[membership.annotator_id] = membership
        else:
            membership.save(update_fields=["standing_reason"])
