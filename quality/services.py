"""The quality engine's Django glue: load what the pure engine needs, call it, write the
decision — one transaction per scored answer, idempotent (an answer already scored is
skipped, so a retried or duplicated task changes nothing).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import OperationalError, transaction
from django.utils import timezone

from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Project
from workforce import services as workforce_services
from workforce.models import Membership

from . import engine
from .models import AnnotatorQuality, GatingDecision

log = logging.getLogger(__name__)

# Errors worth retrying the scoring task for (the database went away or a deadlock).
RETRYABLE_ERRORS = (OperationalError,)


def project_bar(project: Project) -> float:
    return project.annotator_bar if project.annotator_bar is not None else engine.default_bar(len(project.labels))


def _prior(project: Project, membership: Membership | None) -> engine.AnnotatorPosterior:
    if membership is None:
        return engine.prior_from_qualifier(None, None, len(project.labels))
    return engine.prior_from_qualifier(membership.qualifier_correct, membership.qualifier_total, len(project.labels))


def posterior_of(aq: AnnotatorQuality) -> engine.AnnotatorPosterior:
    return engine.AnnotatorPosterior(alpha=aq.alpha, beta=aq.beta, checks=aq.checks, correct=aq.checks_correct)


def _quality_row(project: Project, annotator, membership: Membership | None, *, lock: bool) -> AnnotatorQuality:
    qs = AnnotatorQuality.objects.filter(project=project, annotator=annotator)
    if lock:
        qs = qs.select_for_update()
    aq = qs.first()
    if aq is None:
        prior = _prior(project, membership)
        aq, _ = AnnotatorQuality.objects.get_or_create(
            project=project, annotator=annotator, defaults={"alpha": prior.alpha, "beta": prior.beta}
        )
        if lock:
            aq = AnnotatorQuality.objects.select_for_update().get(pk=aq.pk)
    return aq


@dataclass(frozen=True)
class ScoreOutcome:
    scored: bool
    kind: str  # "check" | "item" | "skipped"
    detail: str = ""


def answer_score(*, answer_id: int) -> ScoreOutcome:
    """Score one answer. Safe to run twice or concurrently: the answer row is locked and
    an answer with ``scored_at`` set is left alone."""
    with transaction.atomic():
        answer = (
            Answer.objects.select_for_update(of=("self",))
            .select_related("project")
            .filter(pk=answer_id)
            .first()
        )
        if answer is None:
            return ScoreOutcome(False, "skipped", "no such answer")
        if answer.scored_at is not None:
            return ScoreOutcome(False, "skipped", "already scored")
        project = answer.project
        if answer.is_check:
            outcome = _score_check(answer, project)
        else:
            outcome = _score_item_answer(answer, project)
        answer.scored_at = timezone.now()
        answer.save(update_fields=["scored_at", "correct"])
    return outcome


def _score_check(answer: Answer, project: Project) -> ScoreOutcome:
    """A hidden known-answer check: update the annotator's posterior, gate, and set how
    often they get checks from now on."""
    known_label = Item.objects.filter(pk=answer.item_id).values_list("known_label", flat=True).get()
    answer.correct = answer.label == known_label
    membership = (
        Membership.objects.select_for_update().select_related("project", "annotator")
        .filter(project=project, annotator_id=answer.annotator_id).first()
    )
    aq = _quality_row(project, answer.annotator, membership, lock=True)
    post = engine.posterior_update(posterior_of(aq), answer.correct)
    aq.alpha, aq.beta, aq.checks, aq.checks_correct = post.alpha, post.beta, post.checks, post.correct
    aq.save(update_fields=["alpha", "beta", "checks", "checks_correct", "updated_at"])
    if membership is None:
        return ScoreOutcome(True, "check", "no membership")
    bar = project_bar(project)
    decision = engine.gate(post, bar=bar, standing=membership.standing)
    if decision.changed:
        lo, hi = post.interval(project.confidence)
        GatingDecision.objects.create(
            project=project,
            annotator_id=answer.annotator_id,
            answer_id=answer.pk,
            standing=decision.standing,
            previous_standing=membership.standing,
            reason=decision.reason,
            checks=post.checks,
            checks_correct=post.correct,
            accuracy=post.mean,
            accuracy_lower=lo,
            accuracy_upper=hi,
            bar=bar,
        )
        workforce_services.membership_standing_set(
            membership=membership, standing=decision.standing, reason=decision.reason
        )
    elif decision.reason != membership.standing_reason and decision.standing == membership.standing:
        membership.standing_reason = decision.reason
        membership.save(update_fields=["standing_reason"])
    workforce_services.membership_check_rate_set(membership=membership, rate=engine.known_check_rate(post, bar=bar))
    return ScoreOutcome(True, "check", decision.standing)


def annotator_accuracies(project: Project, annotator_ids: list[int]) -> dict[int, float]:
    """Accuracy estimate per annotator as item scoring uses it: the posterior mean; the
    qualifier prior for anyone not yet checked; chance for a revoked annotator (their
    answers carry no weight — the crowd replay does the same)."""
    members = {m.annotator_id: m for m in Membership.objects.filter(project=project, annotator_id__in=annotator_ids)}
    posts = {
        aq.annotator_id: posterior_of(aq)
        for aq in AnnotatorQuality.objects.filter(project=project, annotator_id__in=annotator_ids)
    }
    chance = engine.chance_accuracy(len(project.labels))
    out = {}
    for a in annotator_ids:
        m = members.get(a)
        if m is not None and m.standing == Membership.Standing.REVOKED:
            out[a] = chance
        else:
            out[a] = posts[a].mean if a in posts else _prior(project, m).mean
    return out


def _score_item_answer(answer: Answer, project: Project) -> ScoreOutcome:
    """A regular answer: recompute the item's posterior from its answers (at most the
    project's cap of them) and accept it, ask for one more answer, or stop at the cap."""
    item = Item.objects.select_for_update().get(pk=answer.item_id)
    if item.status != Item.Status.OPEN:
        return ScoreOutcome(True, "item", f"item already {item.status}")
    answers = list(Answer.objects.filter(item=item).order_by("id").values_list("annotator_id", "label"))
    acc = annotator_accuracies(project, sorted({a for a, _ in answers}))
    decision = engine.decide_item(
        project.labels,
        [(label, acc[a]) for a, label in answers],
        target=project.accuracy_target,
        cap=project.max_answers,
    )
    wanted = item.answers_wanted
    if decision.status == "more":
        wanted = max(wanted, min(project.max_answers, len(answers) + 1))
    status = {"accepted": Item.Status.ACCEPTED, "exhausted": Item.Status.EXHAUSTED, "more": Item.Status.OPEN}[
        decision.status
    ]
    task_services.item_decision_apply(
        item=item, status=status, label=decision.label, p_correct=decision.p_correct, answers_wanted=wanted
    )
    return ScoreOutcome(True, "item", decision.status)


def unscored_sweep(*, older_than_seconds: int = 30, limit: int = 1000) -> list[int]:
    """Ids of answers that were stored but never scored (a lost task, a worker killed
    mid-run); the periodic task enqueues them again."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Answer.objects.filter(scored_at__isnull=True, created_at__lte=cutoff).order_by("id").values_list("id", flat=True)[
            :limit
        ]
    )
