"""Scoring an answer on a regular item: the item's posterior, accept / ask for more / exhausted."""
from __future__ import annotations

from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Project
from workforce.models import Membership

from .. import engine
from ..engine.em import calibrate_posterior
from ..models import AnnotatorConfusion, AnnotatorQuality
from . import model as model_services
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


def _score_item_answer(answer: Answer, project: Project, pending: dict | None = None) -> ScoreOutcome:
    """A regular answer: the item's posterior under the per-class model (each annotator's
    confusion rows, the project's class prior and evidence temperature — ``engine.decide_confusion``,
    the call the crowd replay makes) and accept it, ask for one more answer, or stop at the cap
    ('exhausted': the expert queue's input). A decided item feeds its posterior back into its
    annotators' rows (incremental Dawid-Skene); the periodic re-estimate is scheduled from here.
    Queries: O(answers on the item) <= the project's cap."""
    # FOR NO KEY UPDATE: excludes other scorings of the item, not the foreign-key checks of
    # answers and leases being inserted for it (FOR UPDATE made those wait for this commit)
    item = Item.objects.select_for_update(no_key=True).get(pk=answer.item_id)
    if item.status != Item.Status.OPEN:
        return ScoreOutcome(True, "item", f"item already {item.status}")
    answers = list(Answer.objects.filter(item=item).order_by("id").values_list("id", "annotator_id", "label", "weight"))
    # answer-quality weights (null = 1): stored when scored; this batch's not saved yet
    pending = {**(pending or {}), answer.pk: answer.weight}
    weights = [pending.get(i, w) for i, _, _, w in answers]
    answers = [(i, a, label) for i, a, label, _ in answers]
    ids = sorted({a for _, a, _ in answers})
    weightless = model_services.weightless_annotators(project, ids)  # revoked or evidence withheld
    rows = model_services.confusions(project, ids, lock=True)
    confs = {a: model_services.confusion_of(rows[a], project) for a in ids}
    state = model_services.model_state(project)  # read unlocked; written last (short row lock)
    decision, post = engine.decide_confusion(
        project.labels,
        state.log_prior,
        [(label, None if a in weightless else confs[a]) for _, a, label in answers],
        tau=1.0,
        target=project.accuracy_target,
        cap=project.max_answers,
        weights=weights,
    )
    # stored P(label right) is the calibrated one (temperature + hard-item share), as delivered
    p_correct = calibrate_posterior(post, state.log_prior, state.tau, state.eps)[decision.label]
    wanted = item.answers_wanted
    if decision.status == "more":
        wanted = max(wanted, min(project.max_answers, len(answers) + 1))
    else:
        changed = set()
        for answer_id, a, label in answers:
            if answer_id > state.answer_watermark and a not in weightless:
                confs[a].observe(post, label)
                changed.add(a)
        for a in changed:
            rows[a].rows = confs[a].to_json()
        AnnotatorConfusion.objects.bulk_update([rows[a] for a in changed], ["rows"])
    status = {"accepted": Item.Status.ACCEPTED, "exhausted": Item.Status.EXHAUSTED, "more": Item.Status.OPEN}[
        decision.status
    ]
    task_services.item_decision_apply(
        item=item, status=status, label=decision.label, p_correct=p_correct, answers_wanted=wanted
    )
    # a decided item's posterior goes into the class prior: the caller (``answer_score``) writes
    # it with the count, last in the transaction, once per batch
    return ScoreOutcome(True, "item", decision.status, class_post=post if decision.status != "more" else None)
