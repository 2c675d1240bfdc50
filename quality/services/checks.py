"""Scoring a hidden known-answer check: the annotator's posterior, gating, the check rate."""
from __future__ import annotations

from django.utils import timezone

from tasks_app import services as task_services
from tasks_app import task_types
from tasks_app.models import Answer, Item, Project
from workforce.models import Membership

from .. import engine
from .common import ScoreOutcome, _quality_row, posterior_of, project_bar
from .gating import annotator_gate
from .structured import check_correct


def _score_checks(batch: list[Answer], project: Project, kind: str) -> tuple[dict[int, ScoreOutcome], list[Answer]]:
    """Hidden checks of one project in one transaction (the drain's; the caller holds the
    project's advisory lock exclusively and the answer rows), in id order, each exactly as it
    would be alone (a batch of one: the per-answer task's path too, irev3): the keys, the
    memberships (locked, annotator order), the quality rows, the gating walks and the confusion
    rows (locked) are read once; the quality rows, the walks, the memberships' reason and check
    rate, the confusion rows and the answers' outcomes are written once at the end
    (``hot_sql``; issue 9, fifth round: per check these were four ORM saves and a locked read,
    ~3 ms of the worker's CPU). Gating keeps its per-check steps (``gating.annotator_gate`` with a
    ``GateBatch``); a changed decision first writes the batch's answers scored so far, so its
    evidence lists the annotator's earlier checks as alone.

    Stops after a check whose gate paused or revoked its annotator: that releases their leases
    (row locks on leases and items a web submit may hold), so it is the last thing the
    transaction does besides the deferred writes, which touch only rows it already holds — a
    transaction never waits for a second annotator's leases while holding the first one's items.
    Returns the outcomes and the answers scored (the caller scores the rest in a new transaction)."""
    from . import hot_sql
    from .gating import GateBatch
    from .items import _confusions_write
    from .model import confusion_of, confusions

    keys = {i: (lab, val, st) for i, lab, val, st in Item.objects.filter(pk__in=sorted({a.item_id for a in batch}))
            .values_list("id", "known_label", "known_value", "status")}
    annotators = sorted({a.annotator_id for a in batch})
    members = hot_sql.memberships_locked(project.pk, annotators)
    for m in members.values():
        m.project = project  # the user is loaded only if a pause releases their leases
    quality = hot_sql.quality_locked(project.pk, annotators)
    categorical = kind == task_types.CATEGORICAL
    conf_rows = confusions(project, annotators, lock=True) if categorical else {}
    confs = {a: confusion_of(r, project) for a, r in conf_rows.items()}
    bar = project_bar(project)
    outcomes: dict[int, ScoreOutcome] = {}
    done: list[Answer] = []
    pending: list[Answer] = []  # scored, not yet written

    def flush() -> None:
        hot_sql.answers_scored_write(pending, timezone.now(), correct=True)
        pending.clear()

    gates = GateBatch(hot_sql.gating_states_locked(project.pk, annotators), flush)
    rate_changed: dict[int, Membership] = {}
    changed_conf: set[int] = set()
    for answer in batch:
        a = answer.annotator_id
        known_label, known_value, status = keys[answer.item_id]
        membership = members.get(a)
        stop = False
        if status != Item.Status.OPEN:
            answer.correct = None  # the key is under audit: held (as alone)
            outcome = ScoreOutcome(True, "check", "held: answer key under audit")
        else:
            answer.correct = check_correct(project, answer, known_label, known_value)
            aq = quality.get(a)
            if aq is None:
                aq = quality[a] = _quality_row(project, a, membership, lock=True)
            post = engine.posterior_update(posterior_of(aq), answer.correct)
            aq.alpha, aq.beta, aq.checks, aq.checks_correct = post.alpha, post.beta, post.checks, post.correct
            if membership is None:
                outcome = ScoreOutcome(True, "check", "no membership")
            else:
                before = membership.standing
                standing = annotator_gate(project=project, membership=membership, post=post, answer=answer, bar=bar,
                                          batch=gates)
                rate = engine.known_check_rate(post, bar=bar)
                if rate != membership.known_check_rate:  # (workforce.services.membership_check_rate_set's write, deferred)
                    membership.known_check_rate = rate
                    rate_changed[a] = membership
                if not answer.correct:
                    task_services.task_enqueue("quality.audit_known_item", answer.item_id)
                outcome = ScoreOutcome(True, "check", standing)
                stop = standing != before and standing in (Membership.Standing.PAUSED, Membership.Standing.REVOKED)
        if categorical:  # the one-hot observation, on the row as a re-read would give it
            confs[a].observe(known_label, answer.label)
            conf_rows[a].rows = confs[a].to_json()
            confs[a] = confusion_of(conf_rows[a], project)
            changed_conf.add(a)
        pending.append(answer)
        outcomes[answer.pk] = outcome
        done.append(answer)
        if stop:
            break
    flush()
    now = timezone.now()
    touched = {d.annotator_id for d in done}
    hot_sql.quality_write([quality[a] for a in sorted(quality) if a in touched], now)
    hot_sql.gating_states_write([gates.states[a] for a in sorted(gates.states) if a in touched], now)
    dirty = {**gates.members, **rate_changed}
    hot_sql.memberships_gate_write([dirty[a] for a in sorted(dirty)])
    _confusions_write([conf_rows[a] for a in sorted(changed_conf)])
    return outcomes, done
