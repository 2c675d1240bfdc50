"""Scoring the structured task types (issue 6): multiple choice, free text, boxes (agreement),
subjective ratings and most-similar, free text under reviewer judgement.

``tasks_app.task_types.scoring_kind`` says which path a project takes (``scoring.answer_score``
dispatches on it):

- *categorical* (single choice, objective rating): the confusion model, as before; a rating
  check is right within the scale's ``tolerance`` (:func:`check_correct`);
- *agreement* (multi_choice, text exact / keywords, bbox): a hidden check is right when its
  similarity to the known value reaches the type's threshold (``engine.similarity``), then the
  usual posterior update and sequential gate; an item is decided by
  ``engine.similarity.decide_agreement`` and gets the agreeing answers' consensus as its value;
- *subjective* (rating with ``subjective: true``, most_similar): no right answer. A hidden
  *repeat* is graded against the annotator's own first answer and moves gating; a customer's
  reference item (a plain known item) is not graded (``services.subjective``). An item is
  accepted once it has ``min(3, max_answers)`` answers from annotators not revoked on the
  project (``exhausted`` when the cap is reached without them) and delivers the distribution
  and its centre (median rating, most chosen candidate) as its value; on acceptance each answer's
  agreement with the others is recorded (peer agreement, a signal for ops); every answer to an
  accepted subjective item is paid (workforce.services.pay);
- *review* (text with ``mode: review``): one answer, then the item goes to the expert queue
  (``exhausted``) for a reviewer's judgement; checks are not graded.
"""
from __future__ import annotations

from typing import Any

from tasks_app import services as task_services
from tasks_app import task_types
from tasks_app.models import Answer, Item, Project

from ..engine import similarity
from . import subjective
from .common import ScoreOutcome
from .items import annotator_accuracies

SUBJECTIVE_OVERLAP = 3


def _prepared(task_type: str, value: Any) -> Any:
    """A value as the similarity functions take it (free text normalised)."""
    if task_type == task_types.TEXT and not isinstance(value, list):
        return task_types.text_normalise(value or "")
    return value


def check_correct(project: Project, answer: Answer, known_label: str, known_value: Any) -> bool:
    """Whether a hidden check's answer is right (categorical and agreement kinds):
    ``task_types.answer_matches``, the rule the tutorial and qualifier use too."""
    return task_types.answer_matches(
        project.task_type, project.type_config, answer.label, answer.value, known_label, known_value
    )


def structured_answer_score(answer: Answer, project: Project, kind: str) -> ScoreOutcome:
    """Score an answer of a subjective or review project, or a regular item's answer of an
    agreement project (checks of agreement projects go through ``checks._score_checks``)."""
    if answer.is_check and kind == task_types.SUBJECTIVE:
        return subjective.repeat_score(answer, project)
    if answer.is_check:
        answer.correct = None
        return ScoreOutcome(True, "check", f"{kind}: not graded")
    item = Item.objects.select_for_update().get(pk=answer.item_id)
    if item.status != Item.Status.OPEN:
        return ScoreOutcome(True, "item", f"item already {item.status}")
    ids_rows = list(Answer.objects.filter(item=item).order_by("id").values_list("id", "annotator_id", "label", "value"))
    rows = [r[1:] for r in ids_rows]
    t, config, cap = project.task_type, project.type_config, project.max_answers
    wanted = item.answers_wanted
    if kind == task_types.REVIEW:
        status, label, value, p = Item.Status.EXHAUSTED, rows[0][1], rows[0][2], None
    elif kind == task_types.SUBJECTIVE:
        counted = subjective.counted_rows(project, rows)  # revoked annotators' answers do not count
        values = [int(float(label)) if float(label).is_integer() else float(label) for _, label, _ in counted]
        summary = similarity.subjective_summary(t, values) if values else None
        if len(counted) >= min(SUBJECTIVE_OVERLAP, cap):
            status = Item.Status.ACCEPTED
            subjective.peer_agreement_record(project, counted)
        elif len(rows) >= cap:
            status = Item.Status.EXHAUSTED
        else:
            status, wanted = Item.Status.OPEN, max(wanted, min(cap, len(rows) + 1))
        value, p = summary, None
        if summary is None:
            label = None
        else:
            label = task_types.number_text(summary["centre"]) if t == task_types.RATING else str(summary["centre"])
    else:
        accs = annotator_accuracies(project, sorted({a for a, _, _ in rows}))
        prepared = [_prepared(t, v) for _, _, v in rows]
        decision = similarity.decide_agreement(
            prepared, [accs[a] for a, _, _ in rows], lambda x, y: similarity.matches(t, config, x, y),
            target=project.accuracy_target, cap=cap,
        )
        members = [decision.anchor] + [i for i in decision.members if i != decision.anchor]
        value = similarity.consensus(t, config, [rows[i][2] for i in members])
        label = task_types.canonical_label(t, config, project.labels, value)
        p = decision.p
        status = {"accepted": Item.Status.ACCEPTED, "exhausted": Item.Status.EXHAUSTED, "more": Item.Status.OPEN}[decision.status]
        if status == Item.Status.OPEN:
            wanted = max(wanted, min(cap, len(rows) + 1))
        else:  # which answers agree with the decided value: what pay reads ("paid when correct")
            agreeing = {ids_rows[i][0] for i in decision.members}
            Answer.objects.filter(item=item, pk__in=agreeing).update(correct=True)
            Answer.objects.filter(item=item).exclude(pk__in=agreeing).update(correct=False)
            answer.correct = answer.pk in agreeing  # the caller saves this answer's row last
    task_services.item_decision_apply(item=item, status=status, label=label, p_correct=p, answers_wanted=wanted, value=value)
    return ScoreOutcome(True, "item", f"{kind}: {status}")


def structured_shadow_outcomes(*, project: Project, accuracy_of) -> list:
    """Shadow deliveries of the known items of an *agreement* project (the certificate's evidence,
    as ``selectors.certificates.shadow_outcomes`` does for the categorical types): each known item's
    answers in arrival order through ``decide_agreement`` until it decides (``exhausted`` with the
    last answer otherwise), each annotator's accuracy from ``accuracy_of(annotator_id, correct)``
    (leaving that item's own check out), right when the consensus matches the known value.
    Subjective and review projects have no right answer: no shadow outcomes, so no claim."""
    from .. import engine

    if task_types.scoring_kind(project.task_type, project.type_config) != task_types.AGREEMENT:
        return []
    t, config = project.task_type, project.type_config
    rows = list(
        Answer.objects.filter(project=project, is_check=True, scored_at__isnull=False)
        .order_by("item_id", "id").values_list("item_id", "annotator_id", "value", "correct")
    )
    known = {i: (lab, val) for i, lab, val in Item.objects.filter(pk__in={r[0] for r in rows}).values_list("id", "known_label", "known_value")}
    by_item: dict[int, list] = {}
    for item_id, annotator_id, value, correct in rows:
        by_item.setdefault(item_id, []).append((value, accuracy_of(annotator_id, bool(correct))))
    out = []
    agree = lambda x, y: similarity.matches(t, config, x, y)  # noqa: E731
    for item_id, answers in by_item.items():
        values = [_prepared(t, v) for v, _ in answers]
        for n in range(1, len(values) + 1):
            d = similarity.decide_agreement(values[:n], [a for _, a in answers[:n]], agree, target=project.accuracy_target,
                                            cap=project.max_answers)
            if d.status != "more":
                break
        status = "exhausted" if d.status == "more" else d.status
        members = [d.anchor] + [i for i in d.members if i != d.anchor]
        value = similarity.consensus(t, config, [answers[i][0] for i in members])
        known_label, known_value = known[item_id]
        ok = task_types.answer_matches(t, config, task_types.canonical_label(t, config, project.labels, value), value,
                                       known_label, known_value)
        out.append((engine.ShadowOutcome(status, d.p, ok), task_types.canonical_label(t, config, project.labels, value), known_label))
    return out
