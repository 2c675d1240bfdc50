"""Scoring an answer on a regular item: the item's posterior, accept / ask for more / exhausted."""
from __future__ import annotations



from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Project
from workforce.models import Membership

from .. import engine
from ..models import AnnotatorQuality
from .common import ScoreOutcome, _prior, posterior_of


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
