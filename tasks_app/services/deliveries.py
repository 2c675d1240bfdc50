"""Delivery batches: cut one (every N decided items, on request, for the pilot, at
completion), and reopen items an audit found wrong.

A batch freezes its items as they were delivered (``DeliveryBatchItem``: label, the model's
probability, answers used, status) with one ``INSERT … SELECT`` and marks them delivered, so a
1M-item batch never passes through Python. The certificate and the calibrated P(correct) are
the quality engine's: after commit the batch is handed to ``quality.batch_certify`` by name
(``task_enqueue``), which also sends the ``delivery.ready`` / ``pilot.ready`` webhook.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from ..models import DeliveryBatch, DeliveryBatchItem, Item, Project
from .enqueue import task_enqueue

CERTIFY_TASK = "quality.batch_certify"
DECIDED = (Item.Status.ACCEPTED, Item.Status.EXHAUSTED)


def undelivered(project: Project):
    """Decided regular items whose current decision has not gone out in a batch yet."""
    return Item.objects.filter(project=project, is_known=False, status__in=DECIDED, delivered_at__isnull=True)


def batch_cut(*, project: Project, kind: str, allow_empty: bool = False) -> DeliveryBatch | None:
    """Freeze every decided, undelivered item of the project into a new batch (numbered
    1, 2, ... per project) and enqueue its certification. None when there is nothing to
    deliver (unless ``allow_empty``). The project row is locked, so two cuts never share an item."""
    if kind not in DeliveryBatch.Kind.values:
        raise ValidationError({"kind": [f"One of: {', '.join(DeliveryBatch.Kind.values)}."]})
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if not allow_empty and not undelivered(project).exists():
            return None
        number = (project.delivery_batches.aggregate(m=Max("number"))["m"] or 0) + 1
        batch = DeliveryBatch.objects.create(
            project=project, number=number, kind=kind, spec_version=project.spec_version,
            certificate={"status": "pending", "detail": "The certificate is being computed."},
        )
        now = timezone.now()
        if connection.vendor == "postgresql":
            count = _freeze_pg(project, batch, now)
        else:
            rows = list(undelivered(project).select_for_update().order_by("id"))
            DeliveryBatchItem.objects.bulk_create(
                DeliveryBatchItem(batch=batch, item=i, external_id=i.external_id, label=i.label, p_model=i.p_correct,
                                  answers_used=i.answers_count, status=i.status) for i in rows
            )
            Item.objects.filter(pk__in=[i.pk for i in rows]).update(delivered_at=now)
            count = len(rows)
        batch.items_count = count
        batch.save(update_fields=["items_count"])
        task_enqueue(CERTIFY_TASK, batch.pk)
    return batch


def _freeze_pg(project: Project, batch: DeliveryBatch, now) -> int:
    """One statement: mark the undelivered decided items delivered and copy them into the batch."""
    q = connection.ops.quote_name
    bi, it = q(DeliveryBatchItem._meta.db_table), q(Item._meta.db_table)
    sql = f"""
        WITH moved AS (
            UPDATE {it} SET delivered_at = %s
            WHERE project_id = %s AND is_known = false AND status IN ('accepted', 'exhausted') AND delivered_at IS NULL
            RETURNING id, external_id, label, p_correct, answers_count, status
        )
        INSERT INTO {bi} (batch_id, item_id, external_id, label, p_model, p_correct, answers_used, status)
        SELECT %s, id, external_id, label, p_correct, NULL, answers_count, status FROM moved
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, project.pk, batch.pk])
        return cursor.rowcount


def batch_request(*, project: Project) -> DeliveryBatch:
    """A batch on the customer's request: 400 when nothing new was decided since the last one."""
    if project.phase in (Project.Phase.DRAFT,):
        raise ValidationError({"phase": ["The project has not started: nothing to deliver yet."]})
    batch = batch_cut(project=project, kind=DeliveryBatch.Kind.REQUESTED)
    if batch is None:
        raise ValidationError({"items": ["No item was decided since the last delivery batch."]})
    return batch


def batch_certificate_set(*, batch_id: int, certificate: dict, calibrated: dict[tuple[str, float], float] | None = None) -> None:
    """Store a batch's certificate (the quality engine's) and, when given, each delivered item's
    calibrated P(correct) from the map (status, model p) → calibrated p. Rows whose value does not
    change are not rewritten (re-certifying after an audit mostly leaves them as they are)."""
    with transaction.atomic():
        batch = DeliveryBatch.objects.select_for_update().get(pk=batch_id)
        if calibrated is not None:
            if connection.vendor == "postgresql" and calibrated:
                q = connection.ops.quote_name
                keys = list(calibrated)
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {q(DeliveryBatchItem._meta.db_table)} b SET p_correct = m.p "
                        "FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS m(s, pm, p) "
                        "WHERE b.batch_id = %s AND b.status = m.s AND b.p_model = m.pm AND b.p_correct IS DISTINCT FROM m.p",
                        [[k[0] for k in keys], [k[1] for k in keys], [calibrated[k] for k in keys], batch_id],
                    )
            else:
                for (status, pm), p in calibrated.items():
                    DeliveryBatchItem.objects.filter(batch=batch, status=status, p_model=pm).update(p_correct=p)
        batch.certificate = certificate
        batch.certificate_updated_at = timezone.now()
        batch.save(update_fields=["certificate", "certificate_updated_at"])


REOPEN_REASONS = ("audit", "re-estimate")
REOPENED_PER_EVENT = 500  # items listed in one item.reopened event (a bigger reopen sends several)


def items_reopen(*, item_ids: list[int], reason: str = "audit") -> int:
    """Items an audit found wrong (``reason`` "audit") or a re-estimate no longer accepts
    ("re-estimate") go back to work: open, label cleared, one more answer wanted, not delivered
    (so their next decision goes out in a later batch). A complete project is live again until
    they are decided. Rows locked in id order. Returns how many were reopened.

    The customer learns of every reopened item that had already gone out (review leftover: a
    delivered label silently went back to work): one ``item.reopened`` webhook event per project
    listing those items — id, external id, the batch it went out in and the label delivered
    there — and the reason, sent after commit like every event (``webhooks.event_emit``). An
    event rather than a change to the sent ``delivery.ready``: the batch stays as delivered
    (exports are frozen), and the item's next decision goes out in a later batch's
    ``delivery.ready``. Items not delivered yet are not announced (the customer never saw them)."""
    if reason not in REOPEN_REASONS:
        raise ValueError(f"unknown reopen reason {reason!r}")
    if not item_ids:
        return 0
    with transaction.atomic():
        items = list(Item.objects.select_for_update().filter(pk__in=item_ids, is_known=False).order_by("id"))
        ids = [i.pk for i in items if i.status in DECIDED]
        delivered = [i for i in items if i.pk in set(ids) and i.delivered_at is not None]
        Item.objects.filter(pk__in=ids).update(
            status=Item.Status.OPEN, label=None, p_correct=None, decided_at=None, delivered_at=None,
            answers_wanted=F("answers_count") + 1,
        )
        projects = {i.project_id for i in items if i.pk in ids}
        Project.objects.filter(pk__in=projects, phase=Project.Phase.COMPLETE).update(
            phase=Project.Phase.PRODUCTION, status=Project.Status.LIVE
        )
        if delivered:
            _reopened_announce(delivered, reason)
    return len(ids)


def _reopened_announce(items: list[Item], reason: str) -> None:
    """The ``item.reopened`` events of ``items_reopen`` (inside its transaction)."""
    from .webhooks import event_emit

    last: dict[int, tuple[int, str | None]] = {}
    for item_id, number, label in (
        DeliveryBatchItem.objects.filter(item_id__in=[i.pk for i in items])
        .order_by("batch__number").values_list("item_id", "batch__number", "label")
    ):
        last[item_id] = (number, label)  # the latest batch it went out in
    by_project: dict[int, list[dict]] = {}
    for i in items:
        number, label = last.get(i.pk, (None, None))
        by_project.setdefault(i.project_id, []).append(
            {"id": i.pk, "external_id": i.external_id, "batch": number, "delivered_label": label})
    for project in Project.objects.filter(pk__in=list(by_project)).order_by("id"):
        rows = by_project[project.pk]
        for start in range(0, len(rows), REOPENED_PER_EVENT):
            event_emit(project=project, event="item.reopened",
                       payload={"project": project.pk, "reason": reason, "items": rows[start:start + REOPENED_PER_EVENT]})
