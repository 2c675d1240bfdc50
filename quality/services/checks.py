"""Scoring a hidden known-answer check: the annotator's posterior, gating, the check rate."""
from __future__ import annotations



from tasks_app.models import Answer, Item, Project
from workforce import services as workforce_services
from workforce.models import Membership

from .. import engine
from ..models import GatingDecision
from .common import ScoreOutcome, _quality_row, posterior_of, project_bar


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
