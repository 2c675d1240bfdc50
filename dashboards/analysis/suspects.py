"""Label-error suspects over a delivery batch: start a run, compute it, review a suspect.

Services (writes, one transaction each):

- ``suspect_run_start``: a pending ``SuspectRun`` for a batch, computed after commit by the
  Celery task ``dashboards.suspects_run`` (a run already pending for the batch is returned).
- ``suspect_run_auto``: the same, started by quality's ``suspects_run_request`` (by task name)
  after a batch's first certification when it is big enough to cross-validate.
- ``suspect_run_compute``: reads the batch's delivered labels and the items' data (a snapshot),
  runs ``confident.find_suspects`` outside any transaction, then stores the ranked suspects.
- ``suspect_review``: ops correct the label (choose the right one) or keep it. The outcome
  feeds quality the way an audit does, through quality's own services:

  * **corrected**: the item's decided label becomes the reviewer's
    (``tasks_app.services.item_decision_apply``, status accepted, P(correct) = the reviewer's
    accuracy as the expert queue rates it, ``quality.services.expert.expert_p_correct``) and
    ``delivered_at`` is cleared, so the corrected label goes out in the next delivery batch
    (the same marker ``items_reopen`` clears for audited items). Every answer on the item is
    evidence on its annotator against the reviewer's label (``AnnotatorAuditRecord`` and the
    Beta posterior, via ``quality.services.annotator_evidence_add``): those who gave the
    wrong label count as disagreeing.
  * **kept**: the delivered label is confirmed; every answer is evidence against it the same way
    (agreeing annotators gain, others lose). The item is not touched.

  A suspect is reviewed once; the item must still carry the label the batch delivered (an item
  reopened or corrected since is refused with a clear message).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from quality.services import annotator_evidence_add, expert_p_correct
from tasks_app import services as task_services
from tasks_app.models import DeliveryBatch, DeliveryBatchItem, Item
from tasks_app.services.enqueue import task_enqueue

from ..models import Suspect, SuspectRun
from . import confident

RUN_TASK = "dashboards.suspects_run"


def suspect_run_start(*, batch: DeliveryBatch, user=None) -> tuple[SuspectRun, bool]:
    """A pending run for the batch (created=False when one is already waiting)."""
    with transaction.atomic():
        batch = DeliveryBatch.objects.select_for_update().select_related("project").get(pk=batch.pk)
        pending = SuspectRun.objects.filter(batch=batch, status=SuspectRun.Status.PENDING).first()
        if pending is not None:
            return pending, False
        run = SuspectRun.objects.create(project=batch.project, batch=batch, created_by=user)
        task_enqueue(RUN_TASK, run.pk)
    return run, True


def suspect_run_auto(*, batch_id: int) -> SuspectRun | None:
    """The automatic run after a batch's first certification (``quality.services.audits.
    suspects_run_request`` decides the batch is big enough): a pending run computed by the task,
    or None when the batch is gone or already has a run (started by ops in the meantime)."""
    with transaction.atomic():
        batch = DeliveryBatch.objects.select_for_update().filter(pk=batch_id).first()  # as suspect_run_start
        if batch is None or SuspectRun.objects.filter(batch=batch).exists():
            return None
        run = SuspectRun.objects.create(project_id=batch.project_id, batch=batch)
        task_enqueue(RUN_TASK, run.pk)
    return run


def suspect_run_compute(*, run_id: int, seed: int = 0) -> SuspectRun | None:
    """Compute a pending run (no-op for a finished one or a missing id)."""
    run = SuspectRun.objects.select_related("batch").filter(pk=run_id).first()
    if run is None or run.status != SuspectRun.Status.PENDING:
        return run
    rows = list(DeliveryBatchItem.objects.filter(batch=run.batch, label__isnull=False)
                .order_by("item_id").values_list("item_id", "label", "item__data"))
    try:
        result = confident.find_suspects([r[2] for r in rows], [r[1] for r in rows], seed=seed)
    except confident.NotEnoughData as exc:
        with transaction.atomic():
            SuspectRun.objects.filter(pk=run.pk, status=SuspectRun.Status.PENDING).update(
                status=SuspectRun.Status.FAILED, error=str(exc), finished_at=timezone.now(), items_used=0)
        run.refresh_from_db()
        return run
    with transaction.atomic():
        run = SuspectRun.objects.select_for_update().get(pk=run.pk)
        if run.status != SuspectRun.Status.PENDING:  # another worker finished it first
            return run
        Suspect.objects.bulk_create(
            Suspect(run=run, item_id=rows[s.index][0], rank=rank, given_label=s.given, suggested_label=s.suggested,
                    self_confidence=round(s.self_confidence, 6), suggested_confidence=round(s.suggested_confidence, 6),
                    margin=round(s.margin, 6))
            for rank, s in enumerate(result.suspects, start=1)
        )
        run.status = SuspectRun.Status.DONE
        run.finished_at = timezone.now()
        run.items_used = result.items_used
        run.suspects_count = len(result.suspects)
        run.method = {
            "features": result.features, "classifier": "logistic regression (C=1, balanced class weights)",
            "folds": result.folds, "classes": result.classes,
            "thresholds": {c: round(t, 4) for c, t in result.thresholds.items()},
            "confident_joint": result.confident_joint, "left_out": result.left_out, "items_in_batch": len(rows),
        }
        run.save(update_fields=["status", "finished_at", "items_used", "suspects_count", "method"])
    return run


def suspect_review(*, suspect: Suspect, outcome: str, user, label: str | None = None) -> Suspect:
    """Record a review: ``corrected`` (with ``label``, the right one) or ``kept``."""
    if outcome not in (Suspect.Outcome.CORRECTED, Suspect.Outcome.KEPT):
        raise ValidationError({"outcome": ["Choose corrected or kept."]})
    with transaction.atomic():
        suspect = Suspect.objects.select_for_update().select_related("run__project").get(pk=suspect.pk)
        project = suspect.run.project
        if suspect.outcome:
            raise ValidationError({"outcome": [f"Already reviewed: {suspect.get_outcome_display().lower()}."]})
        if outcome == Suspect.Outcome.CORRECTED:
            if not label or label not in project.labels:
                raise ValidationError({"label": ["Choose one of this project's labels."]})
            if label == suspect.given_label:
                raise ValidationError({"label": ["That is the delivered label: keep it instead."]})
        final = label if outcome == Suspect.Outcome.CORRECTED else suspect.given_label
        item = Item.objects.select_for_update().get(pk=suspect.item_id)
        if item.label != suspect.given_label:
            raise ValidationError({"item": [
                "This item's label changed since the batch was delivered (reopened or corrected): review it again "
                "from its current state."]})
        if outcome == Suspect.Outcome.CORRECTED:
            p, _how = expert_p_correct(project=project, expert=user)
            task_services.item_decision_apply(item=item, status=Item.Status.ACCEPTED, label=final, p_correct=p,
                                              answers_wanted=item.answers_wanted)
            item.delivered_at = None
            item.save(update_fields=["delivered_at"])
        annotator_evidence_add(project=project, truth={item.pk: final})
        suspect.outcome, suspect.final_label = outcome, final
        suspect.reviewed_by, suspect.reviewed_at = user, timezone.now()
        suspect.save(update_fields=["outcome", "final_label", "reviewed_by", "reviewed_at"])
    return suspect


# --- reads ----------------------------------------------------------------------------------------

def runs_for(*, project) -> list[SuspectRun]:
    return list(SuspectRun.objects.filter(project=project).select_related("batch", "created_by")[:50])


def last_run(*, project) -> SuspectRun | None:
    """The project's most recent run (for the project dashboard's link)."""
    return SuspectRun.objects.filter(project=project).select_related("batch").first()


def suspects_of(*, run: SuspectRun, outcome: str | None = None):
    qs = Suspect.objects.filter(run=run).select_related("item", "reviewed_by").order_by("rank")
    if outcome is not None:
        qs = qs.filter(outcome=outcome)
    return qs


def review_summary(*, run: SuspectRun) -> dict:
    from django.db.models import Count

    counts = dict(Suspect.objects.filter(run=run).values_list("outcome").annotate(n=Count("id")).values_list("outcome", "n"))
    return {"open": counts.get("", 0), "corrected": counts.get("corrected", 0), "kept": counts.get("kept", 0),
            "total": sum(counts.values())}
