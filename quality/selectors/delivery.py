"""The delivery and its accuracy claim (shadow deliveries on known items)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from tasks_app import task_types
from tasks_app.models import Answer, Item, Project

from .. import engine
from ..engine import claim as engine_claim
from ..services import model as model_services


def claim_sample(*, project: Project) -> list[tuple]:
    """The shadow outcomes every claim on this project rests on: (decision status, calibrated
    P(correct) or None, delivered label right?[, annotator ids whose answers the shadow used])
    per known item (the fourth element from the stored re-estimate only: the claim then measures
    its design effect from shared annotators, ``engine.estimate.answerer_design_effect``).

    Computed as the crowd replay computes them: each periodic re-estimate
    (``services.model.project_model_refresh``) runs every known item's shadow (its check answers
    in arrival order through the acceptance rule, confusion rows leaving its own check out) and
    stores, per item, the shadow's status, whether the label from a fit blind to the item's
    known label (5-fold cross-fitting) equals it, that fit's P and the shadow's answerers. Known items whose key is
    under audit are left out. Before the first re-estimate, the shadows are decided online
    instead. Structured task types that are not categorical take their shadow outcomes from their
    own acceptance rule (``certificates.shadow_outcomes``, issue 6), without a P (so their claim
    is stratified by decision status only)."""
    if task_types.scoring_kind(project.task_type, project.type_config) != task_types.CATEGORICAL:
        from .certificates import shadow_outcomes

        return [(outcome.status, None, bool(outcome.correct)) for outcome, _, _ in shadow_outcomes(project=project)]
    state = model_services.model_state(project)
    open_known = set(Item.objects.filter(project=project, is_known=True, status=Item.Status.OPEN).values_list("id", flat=True))
    shadow: list[tuple[str, float | None, bool]] = []
    if state.shadow:  # the last re-estimate's cross-fitted shadows: the crowd replay's method
        for item_id, (status, correct, *rest) in state.shadow.items():
            if int(item_id) in open_known:  # a key under audit since then is left out
                p = float(rest[0]) if rest and rest[0] is not None else None
                if len(rest) > 1:  # stored since issue 4's gap round: the shadow's answerers
                    shadow.append((status, p, bool(correct), tuple(str(a) for a in rest[1])))
                else:
                    shadow.append((status, p, bool(correct)))
    else:
        _online_shadows(project, state, open_known, shadow)
    return shadow


def items_claim(
    *, project: Project, delivered: list[tuple[str, float | None]], sample: list | None = None
) -> engine.DeliveryClaim:
    """The claim for a set of delivered items ((decision status, calibrated P) each) of this
    project: ``engine.claim.items_claim`` on the project's :func:`claim_sample` at the customer's
    confidence and target: the call the crowd replay makes. The delivery (every decided item)
    and each batch certificate (its own items) both come through here."""
    sample = claim_sample(project=project) if sample is None else sample
    return engine_claim.items_claim(sample, delivered, confidence=project.confidence, target=project.accuracy_target)


def project_claim(*, project: Project) -> engine.ShadowClaim:
    """The project's accuracy claim: :func:`items_claim` for every decided regular item (status
    and stored ``p_correct``, already the tempered, calibrated model value, so the per-item map
    of the returned ``ShadowClaim`` is the identity)."""
    delivered = list(
        Item.objects.filter(project=project, is_known=False)
        .exclude(status=Item.Status.OPEN)
        .values_list("status", "p_correct")
    )
    return engine.ShadowClaim(claim=items_claim(project=project, delivered=delivered), overall=engine.Calibration())


def _online_shadows(project: Project, state, open_known: set[int], shadow: list[tuple[str, float | None, bool]]) -> None:
    """Before the first re-estimate: shadows decided online (confusion rows leaving the item's
    own check out, label and P from that decision). Known items under audit are left out."""
    rows = list(
        Answer.objects.filter(project=project, is_check=True, scored_at__isnull=False, item_id__in=open_known)
        .order_by("item_id", "id")
        .values_list("item_id", "annotator_id", "label")
    )
    ids = sorted({r[1] for r in rows})
    confs = {a: model_services.confusion_of(r, project) for a, r in model_services.confusions(project, ids).items()}
    weightless = model_services.weightless_annotators(project, ids)
    known = dict(Item.objects.filter(pk__in={r[0] for r in rows}).values_list("id", "known_label"))
    by_item: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for item_id, annotator_id, label in rows:
        by_item[item_id].append((annotator_id, label))
    for item_id, answers in by_item.items():
        truth = known[item_id]
        loo = [(label, None if a in weightless else confs[a].without(truth, label)) for a, label in answers]
        decision = None
        for n in range(1, len(loo) + 1):
            decision, _ = engine.decide_confusion(
                project.labels, state.log_prior, loo[:n], tau=1.0,
                target=project.accuracy_target, cap=project.max_answers,
            )
            if decision.status != "more":
                break
        status = "exhausted" if decision.status == "more" else decision.status
        shadow.append((status, float(decision.p_correct), decision.label == truth))


def project_delivery(*, project: Project) -> dict[str, Any]:
    """Decided items (accepted, and uncertain at the cap, flagged) with label, calibrated
    P(correct) and answers used, plus the summary claim."""
    pc = project_claim(project=project)
    items = (
        Item.objects.filter(project=project, is_known=False)
        .exclude(status=Item.Status.OPEN)
        .order_by("id")
        .values("external_id", "label", "p_correct", "answers_count", "status", "value")
    )
    out_items = [
        {
            "external_id": row["external_id"],
            "label": row["label"],
            "p_correct": round(pc.p_correct(row["status"], row["p_correct"]), 4) if row["p_correct"] is not None else None,
            "answers_used": row["answers_count"],
            "status": row["status"],
            "value": row["value"],
        }
        for row in items
    ]
    claim = pc.claim
    accepted = sum(1 for r in out_items if r["status"] == Item.Status.ACCEPTED)
    summary = {
        "items_delivered": len(out_items),
        "items_accepted": accepted,
        "items_uncertain": len(out_items) - accepted,
        "estimated_accuracy": claim.accuracy,
        "sample_size": claim.n,
        "sample_correct": claim.correct,
        "interval_lower": claim.lower,
        "interval_upper": claim.upper,
        "confidence": project.confidence,
        "target": project.accuracy_target,
        "certified": claim.certified,
        "method": "shadow deliveries on hidden known-answer items (the acceptance rule re-run on each known "
        f"item's answers under the per-class annotator model, leaving its own check out), post-stratified by "
        f"decision status and calibrated P(correct): {claim.method}",
        "mean_p_correct": round(sum(r["p_correct"] or 0 for r in out_items) / len(out_items), 4) if out_items else None,
    }
    return {"project": project.pk, "summary": summary, "items": out_items}
