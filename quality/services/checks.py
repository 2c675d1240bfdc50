"""Scoring a hidden known-answer check: the annotator's posterior, gating, the check rate."""
from __future__ import annotations

from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Project
from workforce import services as workforce_services
from workforce.models import Membership

from .. import engine
from .common import ScoreOutcome, _quality_row, posterior_of, project_bar
from .gating import annotator_gate
from .structured import check_correct


def _score_check(answer: Answer, project: Project) -> ScoreOutcome:
    """A hidden known-answer check: update the annotator's posterior, gate, and set how
    often they get checks from now on. Leaves the key on ``answer._known_label`` for the
    confusion update that follows (``model.confusion_check_observe``: no second read)."""
    known_label, known_value, status = (
        Item.objects.filter(pk=answer.item_id).values_list("known_label", "known_value", "status").get()
    )
    answer._known_label = known_label  # transient, for the confusion update
    if status != Item.Status.OPEN:
        # the key is under audit (quality.services.known_audit): held, counted when ops resolve it
        answer.correct = None
        return ScoreOutcome(True, "check", "held: answer key under audit")
    answer.correct = check_correct(project, answer, known_label, known_value)  # per task type (issue 6)
    membership = (
        # the membership row only, and FOR NO KEY UPDATE: locking the joined project and user rows
        # FOR UPDATE blocked every answer/lease insert's foreign-key check on them until this
        # scoring committed, and deadlocked with web submits (bench/load.py, issue 9)
        Membership.objects.select_for_update(of=("self",), no_key=True).select_related("project", "annotator")
        .filter(project=project, annotator_id=answer.annotator_id).first()
    )
    aq = _quality_row(project, answer.annotator, membership, lock=True)
    post = engine.posterior_update(posterior_of(aq), answer.correct)
    aq.alpha, aq.beta, aq.checks, aq.checks_correct = post.alpha, post.beta, post.checks, post.correct
    aq.save(update_fields=["alpha", "beta", "checks", "checks_correct", "updated_at"])
    if membership is None:
        return ScoreOutcome(True, "check", "no membership")
    bar = project_bar(project)
    standing = annotator_gate(project=project, membership=membership, post=post, answer=answer, bar=bar)
    rate = engine.known_check_rate(post, bar=bar)
    if rate != membership.known_check_rate:  # a proven annotator's rate sits at its floor: no write (issue 9)
        workforce_services.membership_check_rate_set(membership=membership, rate=rate)
    if not answer.correct:
        # A disagreement with the key: is the key itself wrong? Audited after commit in a task
        # of its own, so scoring never waits on the item row (answer submission locks it).
        task_services.task_enqueue("quality.audit_known_item", answer.item_id)
    return ScoreOutcome(True, "check", standing)
