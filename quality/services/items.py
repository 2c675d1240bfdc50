"""Scoring an answer on a regular item: the item's posterior, accept / ask for more / exhausted."""
from __future__ import annotations

import json
import math

from django.db import connection
from django.utils import timezone

from tasks_app.models import Answer, Item, Project
from tasks_app.services.sql import prepared_cursor
from workforce.models import Membership

from .. import engine
from ..engine.em import calibrate_posterior
from ..models import AnnotatorConfusion, AnnotatorQuality
from . import hot_sql
from . import model as model_services
from .answer_model import answer_weights_set
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


def _score_item_answers(batch: list[Answer], project: Project) -> tuple[dict[int, ScoreOutcome], list[dict]]:
    """Regular answers (one, or a batch of the same project, in id order; the caller holds the
    project's advisory lock and the answer rows): each item's posterior under the per-class
    model (each annotator's confusion rows, the project's class prior and evidence temperature —
    ``engine.decide_confusion``, the call the crowd replay makes) and accept it, ask for one more
    answer, or stop at the cap ('exhausted': the expert queue's input). A decided item feeds its
    posterior back into its annotators' rows (incremental Dawid-Skene) and into the class prior.

    Set-based (issue 9): whatever the batch size, the reads are one statement each — the items
    (locked, id order), all their answers, who is weightless, the confusion rows (locked,
    annotator order), the state row — and the writes one each: the decided items, the changed
    confusion rows (``UPDATE … FROM (VALUES …)``). Answers are decided in id order on in-memory
    rows that evolve exactly as the stored ones would between one-by-one scorings (a changed
    confusion row goes through its JSON form, as a re-read would; the class prior moves after
    each decided item), so the outcome equals scoring them one by one in that order
    (``tests/quality/test_scoring_hot_path.py``). Within one batch nothing else changes
    weightlessness: checks are scored in transactions of their own.

    Returns each answer's outcome and the posteriors of the items decided, in order (the caller
    adds them to the stored class prior with the answer count, last in the transaction)."""
    labels = project.labels
    # FOR NO KEY UPDATE: excludes other scorings of the items, not the foreign-key checks of
    # answers and leases being inserted for them (FOR UPDATE made those wait for this commit)
    item_ids = sorted({a.item_id for a in batch})
    items = hot_sql.items_locked(item_ids)  # (issue 9, fifth round: prepared, only the fields a decision uses)
    open_ids = [i for i in item_ids if items[i].status == Item.Status.OPEN]
    outcomes: dict[int, ScoreOutcome] = {}
    if not open_ids:
        return {a.pk: ScoreOutcome(True, "item", f"item already {items[a.item_id].status}") for a in batch}, []
    # answer-quality weights (issue 4; null = 1): computed once, when the answer is scored (only
    # while an answer model is active), saved by the caller with scored_at. As one by one: an
    # answer is weighed only if its item is open at its turn, and its weight counts from its turn
    # on (before it, a later answer of the batch counts with its stored weight, as an unscored
    # answer does for one-by-one scoring). Predicted for the batch at once (one model call).
    unweighed = {a.pk for a in batch if a.weight is None}
    answer_weights_set([a for a in batch if a.item_id in items and items[a.item_id].status == Item.Status.OPEN])
    on_item: dict[int, list[tuple[int, int, str]]] = {i: [] for i in open_ids}
    weight_of: dict[int, float | None] = {}
    for answer_id, item_id, annotator_id, label, weight in hot_sql.item_answers(open_ids):
        on_item[item_id].append((answer_id, annotator_id, label))
        weight_of[answer_id] = weight
    ids = sorted({a for answers in on_item.values() for _, a, _ in answers})
    weightless = model_services.weightless_annotators(project, ids)  # revoked or evidence withheld
    rows = model_services.confusions(project, ids, lock=True)
    confs = {a: model_services.confusion_of(rows[a], project) for a in ids}
    # read unlocked (written last: short row lock); without its shadow sample, which can be large
    state = hot_sql.scoring_state(project.pk)
    if state is None or len(state.log_prior) != len(labels):  # no row yet, or labels revised: model_state's rules
        state = model_services.model_state(project)
    log_prior = state.log_prior
    counts = state.class_counts or [1.0] * len(labels)
    posts: list[dict] = []
    changed_rows: set[int] = set()
    decided: list[Item] = []
    now = timezone.now()
    for answer in batch:
        item = items[answer.item_id]
        if item.status != Item.Status.OPEN:
            if answer.pk in unweighed:
                answer.weight = None  # decided earlier in the batch: one by one it is not weighed
            outcomes[answer.pk] = ScoreOutcome(True, "item", f"item already {item.status}")
            continue
        weight_of[answer.pk] = answer.weight
        answers = on_item[item.pk]
        decision, post = engine.decide_confusion(
            labels,
            log_prior,
            [(label, None if a in weightless else confs[a]) for _, a, label in answers],
            tau=1.0,
            target=project.accuracy_target,
            cap=project.max_answers,
            weights=[weight_of[i] for i, _, _ in answers],
        )
        # stored P(label right) is the calibrated one (temperature + hard-item share), as delivered
        p_correct = calibrate_posterior(post, log_prior, state.tau, state.eps)[decision.label]
        wanted = item.answers_wanted
        if decision.status == "more":
            wanted = max(wanted, min(project.max_answers, len(answers) + 1))
        else:
            for answer_id, a, label in answers:
                if answer_id > state.answer_watermark and a not in weightless:
                    confs[a].observe(post, label)
                    rows[a].rows = confs[a].to_json()
                    confs[a] = model_services.confusion_of(rows[a], project)  # as the next scoring reads it
                    changed_rows.add(a)
            posts.append(post)
            counts = [c + post.get(lab, 0.0) for c, lab in zip(counts, labels)]  # as model_state_count adds it
            log_prior = [math.log(c / sum(counts)) for c in counts]
        item.status = _STATUS[decision.status]
        item.label, item.p_correct, item.answers_wanted = decision.label, p_correct, wanted
        if item.status != Item.Status.OPEN:
            item.decided_at = now
        item.value = None  # categorical: no structured value
        decided.append(item)
        outcomes[answer.pk] = ScoreOutcome(True, "item", decision.status,
                                           class_post=post if decision.status != "more" else None)
    _items_write(decided)
    _confusions_write([rows[a] for a in sorted(changed_rows)])
    return outcomes, posts


_STATUS = {"accepted": Item.Status.ACCEPTED, "exhausted": Item.Status.EXHAUSTED, "more": Item.Status.OPEN}


def _items_write(items: list[Item]) -> None:
    """The decisions, one statement (what ``tasks_app.services.item_decision_apply`` writes per
    item: status, label, P(correct), overlap, decision time once decided; a categorical decision
    has no structured value)."""
    last = {it.pk: it for it in items}  # an item decided twice in a batch: its last state
    if not last:
        return
    if connection.vendor != "postgresql":  # the embedded run (SQLite): the ORM's form
        Item.objects.bulk_update(list(last.values()), ["status", "label", "p_correct", "answers_wanted", "decided_at", "value"])
        return
    rows = list(last.values())
    with prepared_cursor() as cursor:  # one statement text whatever the batch size: prepared once
        cursor.execute(
            f"UPDATE {Item._meta.db_table} AS i SET status = v.status, label = v.label, p_correct = v.p, "
            "answers_wanted = v.wanted, decided_at = v.decided, value = NULL "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::double precision[], %s::integer[], %s::timestamptz[]) "
            "AS v(id, status, label, p, wanted, decided) WHERE i.id = v.id",
            [[it.pk for it in rows], [it.status for it in rows], [it.label for it in rows], [it.p_correct for it in rows],
             [it.answers_wanted for it in rows], [it.decided_at for it in rows]],
        )


def _confusions_write(rows: list[AnnotatorConfusion]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        AnnotatorConfusion.objects.bulk_update(rows, ["rows"])
        return
    with prepared_cursor() as cursor:
        cursor.execute(
            f"UPDATE {AnnotatorConfusion._meta.db_table} AS c SET rows = v.rows "
            "FROM unnest(%s::bigint[], %s::jsonb[]) AS v(id, rows) WHERE c.id = v.id",
            [[r.pk for r in rows], [json.dumps(r.rows) for r in rows]],
        )
