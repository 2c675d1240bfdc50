"""Writes for customers, projects, items, leases and answers.

Each public function is one transaction. Cross-app work is never imported upward: an
answer starts scoring by enqueueing the Celery task ``quality.score_answer`` by name
after commit.
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterable, Sequence

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Min
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .models import Answer, Example, Item, Lease, Organization, Project

SCORE_TASK = "quality.score_answer"

log = logging.getLogger(__name__)

# What a send raises when the broker is unreachable: kombu wraps connection errors once its
# publish retries are spent; the raw socket/redis errors can surface on the first connect.
BROKER_ERRORS = (BrokerOperationalError, RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)


def task_enqueue(name: str, *args: Any) -> None:
    """Send a Celery task by name (after commit when inside a transaction).

    ``signature(name).delay()`` resolves the registered task, so the embedded run without
    Redis executes it in-process (``task_always_eager``), and a real deployment sends it
    to the broker.

    A broker that cannot be reached (Redis down) is not the caller's failure: the data is
    committed already, so the error is logged and the send dropped; the periodic sweep
    (``quality.sweep_unscored``) enqueues what was never scored. How long a send may block
    first is bounded by ``CELERY_TASK_PUBLISH_RETRY_POLICY`` / ``CELERY_BROKER_CONNECTION_TIMEOUT``.
    """

    def send() -> None:
        try:
            current_app.signature(name, args=args).delay()
        except BROKER_ERRORS as exc:
            log.warning("could not enqueue %s%r (broker unavailable: %s); the sweep will retry it", name, args, exc)

    transaction.on_commit(send)


# --- projects ------------------------------------------------------------------------

@dataclass(frozen=True)
class ExampleIn:
    data: Any
    label: str
    explanation: str = ""
    role: str | None = None


def example_roles_split(n: int) -> list[str]:
    """Roles for ``n`` examples whose role the customer left empty, in their order.

    The split: the first 20 % (at least 1) teach (tutorial), the next 30 % (at least 1)
    grade (qualifier), the rest (at least 1) become hidden known-answer items, which are
    the evidence for annotator accuracy and for the delivery's accuracy claim, so they get
    the largest share. With fewer than 3 examples the split is impossible; project
    creation requires at least 3.
    """
    if n < 3:
        raise ValueError("at least 3 examples are needed to split them")
    n_tut = max(1, math.floor(n * 0.2))
    n_qual = max(1, math.floor(n * 0.3))
    n_known = n - n_tut - n_qual
    if n_known < 1:  # n == 3 or 4 rounding
        n_qual = max(1, n_qual - 1)
        n_known = n - n_tut - n_qual
    return ["tutorial"] * n_tut + ["qualifier"] * n_qual + ["known"] * n_known


def project_create(
    *,
    organization: Organization,
    name: str,
    instructions: str,
    labels: Sequence[str],
    accuracy_target: float,
    confidence: float = 0.95,
    examples: Sequence[ExampleIn],
    max_answers: int = 10,
    annotator_bar: float | None = None,
    qualifier_pass_mark: float = 0.8,
    qualifier_max_attempts: int = 2,
    qualifier_wait_seconds: int = 24 * 3600,
) -> Project:
    """Create a project with its examples. Examples without a role are split by
    :func:`example_roles_split`; each role must end up with at least one example."""
    labels = list(labels)
    errors: dict[str, list[str]] = {}
    if len(labels) < 2 or len(set(labels)) != len(labels):
        errors["labels"] = ["Give at least two distinct labels."]
    for i, ex in enumerate(examples):
        if ex.label not in labels:
            errors.setdefault("examples", []).append(f"Example {i}: label {ex.label!r} is not one of the labels.")
    if len(examples) < 3:
        errors.setdefault("examples", []).append("Give at least 3 examples (tutorial, qualifier, known answers).")
    if errors:
        raise ValidationError(errors)

    # Examples without a role are split by example_roles_split when there are at least 3 of
    # them; fewer unassigned examples (the customer set most roles) become known-answer items.
    unassigned = sum(1 for ex in examples if not ex.role)
    auto = example_roles_split(unassigned) if unassigned >= 3 else []
    roles: list[str] = []
    auto_iter = iter(auto)
    for ex in examples:
        if ex.role:
            roles.append(ex.role)
        else:
            roles.append(next(auto_iter, "known"))
    missing = {"tutorial", "qualifier", "known"} - set(roles)
    if missing:
        raise ValidationError({"examples": [f"No example has the role(s): {', '.join(sorted(missing))}."]})

    with transaction.atomic():
        project = Project(
            organization=organization,
            name=name,
            instructions=instructions,
            labels=labels,
            accuracy_target=accuracy_target,
            confidence=confidence,
            max_answers=max_answers,
            annotator_bar=annotator_bar,
            qualifier_pass_mark=qualifier_pass_mark,
            qualifier_max_attempts=qualifier_max_attempts,
            qualifier_wait_seconds=qualifier_wait_seconds,
        )
        project.full_clean()
        project.save()
        rows = [
            Example(project=project, data=ex.data, label=ex.label, explanation=ex.explanation, role=role, position=i)
            for i, (ex, role) in enumerate(zip(examples, roles))
        ]
        Example.objects.bulk_create(rows)
        known = [
            Item(project=project, external_id=f"known-{ex.pk}", data=ex.data, is_known=True, known_label=ex.label)
            for ex in rows
            if ex.role == Example.Role.KNOWN
        ]
        Item.objects.bulk_create(known)
    return project


def project_launch(*, project: Project) -> Project:
    """Open the project to annotators. Needs at least one item to label."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.status == Project.Status.LIVE:
            return project
        if project.status == Project.Status.COMPLETE:
            raise ValidationError({"status": ["The project is complete; it cannot be launched again."]})
        if not project.items.filter(is_known=False).exists():
            raise ValidationError({"items": ["Upload at least one item before launching."]})
        project.status = Project.Status.LIVE
        project.launched_at = timezone.now()
        project.save(update_fields=["status", "launched_at"])
    return project


def data_shape(data: Any) -> tuple:
    """What an annotator could tell items apart by, besides their content: the JSON type
    and, for an object, its field names."""
    if isinstance(data, dict):
        return ("object", tuple(sorted(data)))
    return (type(data).__name__,)


def describe_shapes(shapes: set[tuple]) -> str:
    parts = []
    for shape in sorted(shapes):
        parts.append("an object with " + ", ".join(shape[1]) if shape[0] == "object" and shape[1] else shape[0])
    return " or ".join(parts)


@dataclass(frozen=True)
class UploadResult:
    created: int
    existing: int


def _row_errors(i: int, row: Any, shapes: set[tuple]) -> list[str]:
    """What is wrong with upload row ``i`` (counted from 0), as messages naming the row."""
    if not isinstance(row, dict):
        return [f"Row {i}: must be an object with external_id and data."]
    ext = row.get("external_id")
    if not isinstance(ext, str) or not ext or len(ext) > 200:
        return [f"Row {i}: external_id must be a non-empty string of at most 200 characters."]
    errors = []
    if ext.startswith("known-"):
        errors.append(f"Row {i}: external_id may not start with 'known-' (reserved).")
    if "data" not in row:
        errors.append(f"Row {i}: data is required.")
    elif shapes and data_shape(row["data"]) not in shapes:
        errors.append(
            f"Row {i}: data must have the same fields as the project's examples ({describe_shapes(shapes)}), "
            "so that hidden known-answer items cannot be told apart from regular ones."
        )
    return errors


MAX_UPLOAD_ERRORS = 50


def _items_insert(project: Project, batch: dict[str, Any]) -> int:
    """Store the batch's ids that are not in the project yet; returns how many were new.

    ``ON CONFLICT DO NOTHING`` (``ignore_conflicts``): an id already there, or stored by a
    concurrent upload of the same ids, is left alone and not counted."""
    if connection.vendor == "postgresql":
        return _items_insert_pg(project, batch)
    existing = set(
        Item.objects.filter(project=project, external_id__in=list(batch)).values_list("external_id", flat=True)
    )
    new = [Item(project=project, external_id=e, data=d) for e, d in batch.items() if e not in existing]
    Item.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _items_insert_pg(project: Project, batch: dict[str, Any]) -> int:
    """PostgreSQL: one ``INSERT … SELECT FROM unnest(ids, data) ON CONFLICT DO NOTHING
    RETURNING`` per batch. Every other column gets the model's default (read from a
    template instance, so a field added to Item later gets its default here too). Against
    ``bulk_create`` it saves building 1000 model instances and ~13k prepared values per
    batch: a 100k-item upload goes from ~15 s to a few seconds."""
    template = Item(project=project, external_id="", data=None)
    fixed = ["project_id", "external_id", "data"]
    cols, exprs, params = [], [], []
    for f in Item._meta.concrete_fields:
        if f.primary_key or f.attname in fixed:
            continue
        cols.append(connection.ops.quote_name(f.column))
        exprs.append(f"%s::{f.db_type(connection)}")
        params.append(f.get_db_prep_save(f.pre_save(template, add=True), connection))
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {q(Item._meta.db_table)} ({q('project_id')}, {q('external_id')}, {q('data')}, {', '.join(cols)}) "
        f"SELECT %s, t.e, t.d::jsonb, {', '.join(exprs)} FROM unnest(%s::text[], %s::text[]) AS t(e, d) "
        "ON CONFLICT DO NOTHING RETURNING 1"
    )
    # JSON text as Django's JSONField stores it (json.dumps with its encoder's defaults).
    data_json = [json.dumps(d) for d in batch.values()]
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, *params, list(batch), data_json])
        return len(cursor.fetchall())


def items_upload(*, project: Project, rows: Iterable[dict[str, Any]], batch_size: int = 1000) -> UploadResult:
    """Add items, idempotent by the customer's ``external_id``: an id already in the project
    is left as it is (its data is not overwritten); within one upload the first row of an
    id wins.

    ``rows`` may be any iterable, read once: a list, or a generator streaming a large
    upload (JSON Lines). Memory stays bounded by ``batch_size``: rows are validated and
    inserted ``batch_size`` at a time, all inside one transaction. All or nothing: a bad
    row anywhere (even the last) raises ValidationError, which rolls back every batch
    already inserted, so nothing is stored. After the first bad row nothing more is
    inserted, but the remaining rows are still read and checked so the error lists up to
    50 bad rows, as a validate-everything-first upload would. An exception raised by
    ``rows`` itself (a parse error in a stream) also rolls everything back.
    """
    shapes = {data_shape(d) for d in Example.objects.filter(project=project).values_list("data", flat=True)}
    errors: list[str] = []
    created = 0
    total = 0
    with transaction.atomic():
        batch: dict[str, Any] = {}
        for i, row in enumerate(rows):
            total += 1
            row_errors = _row_errors(i, row, shapes)
            if row_errors:
                if len(errors) < MAX_UPLOAD_ERRORS:
                    errors.extend(row_errors)
                batch = {}
                continue
            if errors:
                continue  # the upload is refused: only look for more bad rows
            # Duplicates inside the upload: first row wins within a batch here, and across
            # batches because the earlier batch is already in the table (same transaction).
            batch.setdefault(row["external_id"], row["data"])
            if len(batch) >= batch_size:
                created += _items_insert(project, batch)
                batch = {}
        if errors:
            raise ValidationError({"items": errors[:MAX_UPLOAD_ERRORS]})  # rolls back every batch
        if batch:
            created += _items_insert(project, batch)
    return UploadResult(created=created, existing=total - created)


# --- leases --------------------------------------------------------------------------

def _lease_seconds() -> int:
    return settings.CADRE_LEASE_SECONDS


_PICK_SQL = """
SELECT {cols} FROM {item} i
WHERE i.project_id = %s AND i.is_known = %s AND i.status = 'open' {extra}
  AND NOT EXISTS (SELECT 1 FROM {answer} a WHERE a.item_id = i.id AND a.annotator_id = %s)
  AND NOT EXISTS (SELECT 1 FROM {lease} l WHERE l.item_id = i.id AND l.annotator_id = %s AND l.state = 'active')
  AND i.id {op} %s {low}
ORDER BY i.id LIMIT 1 {lock}
"""
# Regular items: those still wanting someone (assigned < answers_wanted), in progress first, then
# fresh; each condition is the predicate of a partial index (item_pick_progress_idx /
# item_pick_fresh_idx), so the scan reads only items that are eligible.
_PICK_GROUPS = {
    True: [""],
    False: [
        "AND i.answers_count > 0 AND i.assigned < i.answers_wanted",
        "AND i.answers_count = 0 AND i.assigned < i.answers_wanted",
    ],
}
_pick_sql_cache: dict[tuple[bool, int, str], str] = {}


def _pick_sql(known: bool, group: int, op: str) -> str:
    key = (known, group, op)
    sql = _pick_sql_cache.get(key)
    if sql is None:
        q = connection.ops.quote_name
        cols = ", ".join(f"i.{q(f.column)}" for f in Item._meta.concrete_fields)
        sql = _PICK_SQL.format(cols=cols, item=q(Item._meta.db_table), answer=q(Answer._meta.db_table), lease=q(Lease._meta.db_table),
                               extra=_PICK_GROUPS[known][group], op=op,
                               # SQLite (embedded run only) has no row locks: it serialises writers instead
                               lock="FOR UPDATE OF i SKIP LOCKED" if connection.vendor == "postgresql" else "",
                               low="AND i.id >= %s" if op == "<" else "")
        _pick_sql_cache[key] = sql
    return sql


# (project id, known) -> (lo, hi, when read). The bounds only choose where the scan starts: the
# scan itself is unbounded (id >= pivot, then id < pivot), so bounds a minute old are still right
# (items uploaded since are found by the wrap-around); they save a query per next task.
_ID_RANGE_SECONDS = 60
_id_ranges: dict[tuple[int, bool], tuple[int, int, float]] = {}


def _id_range(project: Project, known: bool) -> tuple[int, int] | None:
    key = (project.pk, known)
    now = time.monotonic()
    cached = _id_ranges.get(key)
    if cached is not None and now - cached[2] < _ID_RANGE_SECONDS:
        return cached[0], cached[1]
    bounds = Item.objects.filter(project=project, is_known=known).aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        _id_ranges.pop(key, None)
        return None
    _id_ranges[key] = (bounds["lo"], bounds["hi"], now)
    return bounds["lo"], bounds["hi"]


def _item_from_row(row: Sequence[Any]) -> Item:
    """An Item from a row of its concrete columns in model order, with each field's database
    converter applied (JSONField parses its text), as a queryset would."""
    fields = Item._meta.concrete_fields
    values = [
        f.from_db_value(v, None, connection) if v is not None and hasattr(f, "from_db_value") else v
        for f, v in zip(fields, row)
    ]
    return Item.from_db(connection.alias, [f.attname for f in fields], values)


def _pick_item(project: Project, annotator, *, known: bool, rng: random.Random) -> Item | None:
    """Lock one open item for this annotator, or None.

    Order: items already in progress (they need one more answer to be decided) before
    fresh ones, so work in flight gets finished; within each group the scan starts at a
    random id and wraps around, so concurrent annotators do not all queue on the lowest
    locked row (DESIGN.md measured ~6x throughput at 32 annotators). ``SKIP LOCKED``
    makes concurrent callers take different rows; ``assigned < answers_wanted`` makes
    sure no item goes to more people than it needs. Items the annotator answered or holds
    a live lease on are never handed to them again.

    Plain SQL (one prepared text per group and direction): building the equivalent ORM
    queries cost more Python time per next task than PostgreSQL spent running them
    (bench/load.py, issue 9).
    """
    bounds = _id_range(project, known)
    if bounds is None:
        return None
    lo, hi = bounds
    pivot = rng.randint(lo, hi)
    with connection.cursor() as cursor:
        for group in range(len(_PICK_GROUPS[known])):
            for op in (">=", "<"):
                # The wrap-around part starts at the project's lowest id: when the planner walks
                # the primary key (a project that is most of the table), it must not read every
                # older project's rows first (EXPLAIN ANALYZE: 70,750 rows removed, 16 ms -> 0.1 ms).
                params = [project.pk, known, annotator.pk, annotator.pk, pivot] + ([lo] if op == "<" else [])
                cursor.execute(_pick_sql(known, group, op), params)
                row = cursor.fetchone()
                if row is not None:
                    return _item_from_row(row)
    return None


EXPIRE_EVERY_SECONDS = 10


def _expired_leases_reclaim() -> None:
    """Return expired leases' items to the pool at most every few seconds per process
    group (a cache key throttles it), so it also happens in the embedded run, where no
    Celery beat runs; the periodic ``tasks_app.expire_leases`` does the same in production."""
    try:
        due = cache.add("cadre:leases-expire", 1, timeout=EXPIRE_EVERY_SECONDS)
    except Exception:  # the cache (Redis) is down: handing out work matters more than this sweep
        log.warning("cache unavailable; expired-lease sweep skipped", exc_info=True)
        return
    if due:
        leases_expire()


def lease_next(
    *, project: Project, annotator, known_check_rate: float, rng: random.Random | None = None
) -> Lease | None:
    """Give the annotator their next item: their live lease if they have one, else a new
    lease — a hidden known-answer check with probability ``known_check_rate`` (the quality
    engine's choice, stored on the membership), otherwise a regular item. Returns None
    when there is nothing left for them. The caller checks that they may work."""
    rng = rng or random.Random()
    _expired_leases_reclaim()
    with transaction.atomic():
        now = timezone.now()
        mine = list(
            Lease.objects.select_for_update(of=("self",))
            .select_related("item")
            .filter(project=project, annotator=annotator, state=Lease.State.ACTIVE)
            .order_by("id")
        )
        live = [lease for lease in mine if lease.expires_at > now]
        if live:
            return live[0]
        _leases_close(mine, Lease.State.EXPIRED)
        want_known = rng.random() < known_check_rate
        item = _pick_item(project, annotator, known=want_known, rng=rng)
        if item is None and want_known:
            # No unseen check left for them: regular work continues.
            item = _pick_item(project, annotator, known=False, rng=rng)
        elif item is None:
            return None  # no regular work: do not keep serving checks alone
        if item is None:
            return None
        Item.objects.filter(pk=item.pk).update(assigned=F("assigned") + 1)
        item.assigned += 1
        lease = Lease.objects.create(
            item=item,
            project=project,
            annotator=annotator,
            expires_at=timezone.now() + timedelta(seconds=_lease_seconds()),
        )
    return lease


def _leases_close(leases: list[Lease], state: str) -> int:
    """Close active leases and give their items back; items locked in id order."""
    if not leases:
        return 0
    item_ids = sorted({lease.item_id for lease in leases})
    list(Item.objects.select_for_update().filter(pk__in=item_ids).order_by("pk").values_list("pk", flat=True))
    closed = 0
    for lease in leases:
        n = Lease.objects.filter(pk=lease.pk, state=Lease.State.ACTIVE).update(state=state)
        if n:
            Item.objects.filter(pk=lease.item_id, assigned__gt=0).update(assigned=F("assigned") - 1)
            closed += 1
    return closed


def leases_release(*, project: Project, annotator) -> int:
    """Release every open lease of an annotator on a project (revocation, skip)."""
    with transaction.atomic():
        leases = list(
            Lease.objects.select_for_update().filter(project=project, annotator=annotator, state=Lease.State.ACTIVE)
        )
        return _leases_close(leases, Lease.State.RELEASED)


def leases_expire(*, now=None, limit: int = 5000) -> int:
    """Close leases past their expiry so their items can be handed out again."""
    now = now or timezone.now()
    with transaction.atomic():
        leases = list(
            Lease.objects.select_for_update(skip_locked=True)
            .filter(state=Lease.State.ACTIVE, expires_at__lte=now)
            .order_by("id")[:limit]
        )
        return _leases_close(leases, Lease.State.EXPIRED)


# --- answers -------------------------------------------------------------------------

def answer_submit(
    *, annotator, lease_id: int, label: str, client_key: str, duration_ms: int | None = None
) -> tuple[Answer, bool]:
    """Store an answer for a leased item; returns (answer, created).

    Idempotent on ``client_key``: the same submission twice returns the first answer and
    creates nothing. Scoring is enqueued after commit. Raises ValidationError for an
    unknown label or a lease that is not this annotator's live lease.
    """
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": ["A client key of 1 to 64 characters is required."]})
    with transaction.atomic():
        lease = (
            Lease.objects.select_for_update()
            .select_related("item", "project")
            .filter(pk=lease_id, annotator=annotator)
            .first()
        )
        if lease is None:
            raise ValidationError({"lease": ["No such task for you."]})
        # Checked under the lease lock: a retried or doubled submission finds the first answer.
        existing = Answer.objects.filter(annotator=annotator, client_key=client_key).first()
        if existing is not None:
            return existing, False
        if lease.state != Lease.State.ACTIVE or lease.expires_at <= timezone.now():
            raise ValidationError({"lease": ["This task is no longer yours (it expired or was released)."]})
        if label not in lease.project.labels:
            raise ValidationError({"label": [f"{label!r} is not one of this project's labels."]})
        try:
            with transaction.atomic():
                answer = Answer.objects.create(
                    item=lease.item,
                    project=lease.project,
                    annotator=annotator,
                    label=label,
                    client_key=client_key,
                    duration_ms=duration_ms,
                    is_check=lease.item.is_known,
                )
        except IntegrityError:
            raise ValidationError({"lease": ["You have already answered this item."]}) from None
        lease.state = Lease.State.SUBMITTED
        lease.save(update_fields=["state"])
        # The lease's slot becomes the answer's: assigned stays, answers_count grows.
        Item.objects.filter(pk=lease.item_id).update(answers_count=F("answers_count") + 1)
        task_enqueue(SCORE_TASK, answer.pk)
    return answer, True


def item_decision_apply(*, item: Item, status: str, label: str | None, p_correct: float | None, answers_wanted: int) -> None:
    """Record the quality engine's decision on an item (caller holds the item lock)."""
    item.status = status
    item.label = label
    item.p_correct = p_correct
    item.answers_wanted = answers_wanted
    fields = ["status", "label", "p_correct", "answers_wanted"]
    if status != Item.Status.OPEN:
        item.decided_at = timezone.now()
        fields.append("decided_at")
    item.save(update_fields=fields)
