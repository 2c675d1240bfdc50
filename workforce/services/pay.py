"""The pay ledger: one write path, answer accrual, payout batches.

**Rule for answers: paid when correct.** An answer earns its project's rate once it is
*accepted*: its item was accepted by the quality engine and the answer's label equals the
item's accepted label. A hidden known-answer check is paid when it matched the known answer
(``Answer.correct``), so pay never tells a check from a regular item. Answers on items that
end uncertain at the cap, and wrong answers, earn nothing. Structured task types (issue 6): a
regular answer is accepted when it agreed with the item's decided value (``correct`` set by
quality); subjective types (no wrong answer) pay every scored check and every answer to an
accepted item.

Every entry goes through :func:`earning_record` (or the bulk form of the same insert in
:func:`earnings_accrue`): the ``(kind, source_key)`` unique constraint in the database, not
a check in Python, is what makes paying the same thing twice impossible, including from
concurrent workers. Survey rewards use ``kind="survey"`` keyed on the completion id.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Coalesce, Greatest
from django.utils import timezone

from tasks_app.models import Answer, Item, Project

from ..models import Earning, PayAccrualMark, PayoutBatch, ProjectPay

ACCRUE_BATCH = 2000


def default_rate() -> tuple[Decimal, str]:
    return Decimal(str(settings.CADRE_PAY_PER_ANSWER)), settings.CADRE_PAY_CURRENCY


def project_rate(project: Project) -> tuple[Decimal, str]:
    """(amount per accepted answer, currency) of a project: its ProjectPay row, else the default."""
    pay = ProjectPay.objects.filter(project=project).first()
    return (pay.per_answer, pay.currency) if pay else default_rate()


def project_pay_set(*, project: Project, per_answer, currency: str | None = None) -> ProjectPay:
    """Set a project's rate per accepted answer (applies to answers accrued from now on)."""
    try:
        amount = Decimal(str(per_answer))
    except (InvalidOperation, ValueError):
        raise ValidationError({"per_answer": ["Give the rate as a number, e.g. 0.08."]}) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1000000"):
        raise ValidationError({"per_answer": ["The rate must be between 0 and 1,000,000."]})
    currency = (currency or settings.CADRE_PAY_CURRENCY).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError({"currency": ["Use a three-letter currency code, e.g. USD."]})
    pay, _ = ProjectPay.objects.update_or_create(
        project=project, defaults={"per_answer": amount.quantize(Decimal("0.0001")), "currency": currency}
    )
    return pay


def earning_record(
    *,
    annotator,
    kind: str,
    source_key: str,
    amount,
    currency: str | None = None,
    project: Project | None = None,
    note: str = "",
) -> tuple[Earning, bool]:
    """Write one ledger entry, once: ``(entry, created)``. Writing the same ``(kind,
    source_key)`` again (a retried task, a second worker, a double click) returns the entry
    already there, unchanged, with ``created`` False — the first write wins."""
    errors: dict[str, list[str]] = {}
    if kind not in Earning.Kind.values:
        errors["kind"] = [f"Unknown kind {kind!r}: one of {', '.join(Earning.Kind.values)}."]
    source_key = str(source_key or "").strip()
    if not source_key or len(source_key) > 100:
        errors["source_key"] = ["Give a source key of 1 to 100 characters."]
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite() or value <= 0 or value >= Decimal("100000000"):
        errors["amount"] = ["The amount must be a positive number."]
    if errors:
        raise ValidationError(errors)
    currency = (currency or settings.CADRE_PAY_CURRENCY).upper()
    try:
        with transaction.atomic():
            entry = Earning.objects.create(
                annotator=annotator, project=project, kind=kind, source_key=source_key,
                amount=value.quantize(Decimal("0.0001")), currency=currency, note=note[:200],
            )
        return entry, True
    except IntegrityError:
        existing = Earning.objects.filter(kind=kind, source_key=source_key).first()
        if existing is None:  # an IntegrityError for another reason
            raise
        return existing, False


def answers_payable():
    """Answers that are accepted (see the module docstring) and not in the ledger yet."""
    paid = Earning.objects.filter(kind=Earning.Kind.ANSWER, source_key=Cast(OuterRef("pk"), CharField()))
    return answers_accepted().filter(~Exists(paid))


def answers_accepted():
    """Answers that are accepted (see the module docstring), paid or not."""
    accepted = Q(is_check=False, item__status=Item.Status.ACCEPTED, label=F("item__label")) | Q(is_check=True, correct=True)
    # structured task types (issue 6): an answer that agreed with the decided value (quality sets
    # ``correct`` on regular answers of those items); subjective types have no wrong answer
    # (checks included, so pay does not tell them apart there either)
    subjective = Q(project__task_type="most_similar") | Q(project__task_type="rating", project__type_config__subjective=True)
    accepted |= Q(is_check=False, item__status=Item.Status.ACCEPTED, correct=True)
    accepted |= subjective & (Q(is_check=False, item__status=Item.Status.ACCEPTED) | Q(is_check=True, scored_at__isnull=False))
    return Answer.objects.filter(accepted)


def _unpaid(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The ``(answer_id, …)`` rows not in the ledger yet: one lookup of their source keys.

    Why not the anti-join of :func:`answers_payable` inside the walks' batch query (review
    leftover: the first full sweep at 50k paid answers took 6.6 s to 52 s): the ledger is
    filled by the very walk that reads it. Planned while its statistics still said "empty" (a
    new table, or never analyzed since a big sweep began), the anti-join was a nested loop whose
    inner side was the whole ledger index scanned with a join *filter* (EXPLAIN: ``Join Filter:
    source_key = (id)::varchar``), not an index lookup per answer: every answer of a batch
    compared with every entry written so far, quadratic in the entries, until autovacuum
    happened to analyze the table and the plan flipped to a hash anti-join — hence the spread.
    Here the ledger lookup has no join to get wrong: a key list against the unique
    ``(kind, source_key)`` index, or at worst one scan of the ledger per batch of
    ``ACCRUE_BATCH`` answers (linear), whatever the statistics say. Anything paid between
    this lookup and the insert is still skipped by ``ON CONFLICT DO NOTHING``."""
    if not rows:
        return rows
    keys = [str(r[0]) for r in rows]
    if connection.vendor == "postgresql":  # one array parameter, not ACCRUE_BATCH of them
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT source_key FROM {Earning._meta.db_table} WHERE kind = %s AND source_key = ANY(%s::varchar[])",
                           [Earning.Kind.ANSWER, keys])
            paid = {k for (k,) in cursor.fetchall()}
    else:
        paid = set(Earning.objects.filter(kind=Earning.Kind.ANSWER, source_key__in=keys).values_list("source_key", flat=True))
    return [r for r in rows if str(r[0]) not in paid]


def earnings_accrue(*, project: Project | None = None, limit: int = ACCRUE_BATCH, max_batches: int | None = None) -> int:
    """The full walk: turn every accepted, unpaid answer into a ledger entry at its project's
    rate, ``limit`` at a time, walking answer ids upwards (keyset: each batch starts after the
    last id of the one before, so answers that write nothing — a project paying 0 — cannot
    hold the walk up); returns how many entries were inserted. Safe to run concurrently and
    repeatedly: the insert skips any answer another run paid first (``ON CONFLICT DO
    NOTHING`` on the ledger's unique constraint). Its cost grows with the answers in history;
    the beat runs :func:`earnings_accrue_all`, which walks only what changed since its last run
    and this only as the periodic reconciliation sweep."""
    return _accrue_full(project=project, limit=limit, max_batches=max_batches)[0]


def _accrue_full(*, project: Project | None, limit: int, max_batches: int | None) -> tuple[int, bool]:
    """:func:`earnings_accrue`'s walk, ``(inserted, finished)``: finished is False when
    ``max_batches`` stopped it before the last answer."""
    qs = answers_accepted()  # the ledger is checked per batch (_unpaid), not joined
    if project is not None:
        qs = qs.filter(project=project)
    inserted, after_id, batches = 0, 0, 0
    rates: dict[int, tuple[Decimal, str]] = {}
    while True:
        if max_batches is not None and batches >= max_batches:
            return inserted, False
        rows = list(qs.filter(id__gt=after_id).order_by("id").values_list("id", "annotator_id", "project_id")[:limit])
        if not rows:
            break
        batches += 1
        after_id = rows[-1][0]
        inserted += _pay_rows(_unpaid(rows), rates)
        if len(rows) < limit:
            break
    return inserted, True


def _pay_rows(rows: list[tuple[int, int, int]], rates: dict[int, tuple[Decimal, str]]) -> int:
    """Ledger entries for ``(answer_id, annotator_id, project_id)`` rows at their projects' rates
    (``rates`` caches them for the run); returns how many this call inserted."""
    for pid in {r[2] for r in rows} - rates.keys():
        rates[pid] = project_rate(Project(pk=pid))
    entries = [
        Earning(
            annotator_id=annotator_id, project_id=project_id, kind=Earning.Kind.ANSWER, source_key=str(answer_id),
            amount=rates[project_id][0], currency=rates[project_id][1],
        )
        for answer_id, annotator_id, project_id in rows
        if rates[project_id][0] > 0  # a project paying nothing per answer writes no entries
    ]
    return len(_insert_skipping_paid(entries)) if entries else 0


def earnings_accrue_since(*, since: dt.datetime, limit: int = ACCRUE_BATCH, max_batches: int | None = None) -> tuple[int, bool]:
    """The incremental walk: pay the answers that can have become payable since ``since``,
    ``(inserted, finished)``. An answer becomes payable in one of two writes, and each leaves a
    time this walks by an index, so the cost follows what changed, not the history:

    - its scoring (``Answer.scored_at``: a check matched its key, a late answer to an item
      already accepted, a subjective check scored) — ``answer_scored_idx``, keyset on
      ``(scored_at, id)``;
    - its item's decision (``Item.decided_at``: accepted, or re-decided by an expert; the
      structured types set ``correct`` in that same transaction) — ``item_decided_idx``, keyset
      on ``(decided_at, id)`` over items, then those items' answers (``answer_item_idx``).

    Anything else that can make an answer payable without touching either time (a corrected
    known-answer key re-marking ``correct``, a project's ``type_config`` turned subjective) is
    left to the periodic full sweep (:func:`earnings_accrue`). ``finished`` is False when
    ``max_batches`` cut a walk short: the caller must not move its watermark then."""
    payable = answers_accepted()  # the ledger is checked per batch (_unpaid), not joined
    rates: dict[int, tuple[Decimal, str]] = {}
    inserted, batches = 0, 0
    fields = ("id", "annotator_id", "project_id")
    # 1. answers scored since whose scoring is what made them payable: checks, and answers scored
    # once their item was already decided (a regular answer scored before its item's decision is
    # walk 2's: reading it here too would read every new answer twice)
    scored = Answer.objects.filter(scored_at__gte=since).filter(Q(is_check=True) | Q(scored_at__gte=F("item__decided_at")))
    # 2. answers of items decided since (an item has at most its project's cap of answers)
    decided = Item.objects.filter(decided_at__gte=since)
    walks = (
        (_keyset_pages(scored, "scored_at", limit), "id__in"),
        (_keyset_pages(decided, "decided_at", max(1, limit // 10)), "item_id__in"),
    )
    for pages, lookup in walks:
        while True:
            if max_batches is not None and batches >= max_batches:
                return inserted, False
            ids, more = next(pages, ((), False))
            if ids:
                batches += 1
                rows = _unpaid(list(payable.filter(**{lookup: ids}).values_list(*fields)))
                inserted += _pay_rows(rows, rates) if rows else 0
            if not more:
                break
    return inserted, True


def _insert_skipping_paid(entries: list[Earning]) -> list[int]:
    """``INSERT … ON CONFLICT (kind, source_key) DO NOTHING RETURNING id``: one statement for
    the batch; the ids returned are the rows this call inserted (an answer a concurrent run
    paid first is skipped by the database, not counted). On PostgreSQL the rows travel as
    arrays (``unnest``: five parameters, not eight per row)."""
    table = Earning._meta.db_table
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    columns = "annotator_id, project_id, kind, source_key, amount, currency, note, created_at"
    conflict = "ON CONFLICT (kind, source_key) DO NOTHING RETURNING id"
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT a, p, k, s, m, c, '', %s "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[], %s::numeric[], %s::varchar[]) "
            f"AS u(a, p, k, s, m, c) {conflict}"
        )
        params = [now, [e.annotator_id for e in entries], [e.project_id for e in entries], [e.kind for e in entries],
                  [e.source_key for e in entries], [e.amount for e in entries], [e.currency for e in entries]]
    else:
        values, params = [], []
        for e in entries:
            values.append("(%s, %s, %s, %s, %s, %s, %s, %s)")
            params += [e.annotator_id, e.project_id, e.kind, e.source_key, ops.adapt_decimalfield_value(e.amount, 12, 4),
                       e.currency, "", now]
        sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join(values)} {conflict}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def earnings_accrue_all(*, max_batches: int = 500, now: dt.datetime | None = None) -> int:
    """What the beat task runs. With a watermark (:class:`PayAccrualMark`) younger than
    ``CADRE_PAY_SWEEP_HOURS``' sweep: the incremental walk (:func:`earnings_accrue_since`) from
    the last finished run's start minus ``CADRE_PAY_ACCRUE_OVERLAP_SECONDS`` — the overlap
    covers a scoring or decision transaction that stamped its time before that run started
    and committed after (it must be shorter than the overlap; the sweep catches any that was
    not). Otherwise (first run, or the sweep is due): the full walk (:func:`earnings_accrue`).
    Bounded per run (``max_batches``); a run cut short leaves the watermark where it was, so
    the next run starts over from the same time (what it paid meanwhile is skipped by the
    anti-join). Concurrent runs pay each answer once (the ledger's unique constraint) and only
    move the watermark forward."""
    started = now or timezone.now()
    mark = PayAccrualMark.objects.filter(pk=1).first()
    sweep_every = dt.timedelta(hours=float(settings.CADRE_PAY_SWEEP_HOURS))
    if mark is None or mark.scanned_to is None or mark.swept_at is None or started - mark.swept_at >= sweep_every:
        # the sweep is not bounded by max_batches: cut short, it would start over at every run
        inserted, _ = _accrue_full(project=None, limit=ACCRUE_BATCH, max_batches=None)
        _mark_move(scanned_to=started, swept_at=started)
        return inserted
    overlap = dt.timedelta(seconds=float(settings.CADRE_PAY_ACCRUE_OVERLAP_SECONDS))
    inserted, finished = earnings_accrue_since(since=mark.scanned_to - overlap, max_batches=max_batches)
    if finished:
        _mark_move(scanned_to=started)
    return inserted


def _mark_move(*, scanned_to: dt.datetime, swept_at: dt.datetime | None = None) -> None:
    """Move the watermark forward only (``GREATEST``): a slower concurrent run finishing later
    with an earlier start cannot move it back."""
    PayAccrualMark.objects.get_or_create(pk=1)
    values = {"scanned_to": Greatest(Coalesce(F("scanned_to"), Value(scanned_to)), Value(scanned_to))}
    if swept_at is not None:
        values["swept_at"] = Greatest(Coalesce(F("swept_at"), Value(swept_at)), Value(swept_at))
    PayAccrualMark.objects.filter(pk=1).update(**values)


def payout_create(*, period_start: dt.date, period_end: dt.date, created_by, today: dt.date | None = None) -> tuple[PayoutBatch, bool]:
    """The payout batch of a period (dates inclusive, UTC), ``(batch, created)``: every ledger
    entry written in the period and not in a batch yet. Asking again for the same period
    returns the same batch unchanged; an entry already in another (overlapping) batch is
    never taken again. The period must be over, so no entry can still arrive in it."""
    today = today or timezone.now().date()
    if period_start is None or period_end is None:
        raise ValidationError({"period": ["Give the first and the last day of the period."]})
    if period_start > period_end:
        raise ValidationError({"period_end": ["The period ends before it starts."]})
    if period_end >= today:
        raise ValidationError({"period_end": ["The period is not over yet: pick a last day before today."]})
    with transaction.atomic():
        batch = PayoutBatch.objects.filter(period_start=period_start, period_end=period_end).first()
        if batch is not None:
            return batch, False
        try:
            with transaction.atomic():
                batch = PayoutBatch.objects.create(period_start=period_start, period_end=period_end, created_by=created_by)
        except IntegrityError:  # the same period, created concurrently: theirs is the batch
            return PayoutBatch.objects.get(period_start=period_start, period_end=period_end), False
        start = dt.datetime.combine(period_start, dt.time.min, tzinfo=dt.timezone.utc)
        end = dt.datetime.combine(period_end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.timezone.utc)
        # UPDATE … WHERE payout_id IS NULL: PostgreSQL re-checks the condition on rows another
        # batch locked and committed meanwhile, so an entry ends up in one batch only.
        batch.entries = Earning.objects.filter(payout__isnull=True, created_at__gte=start, created_at__lt=end).update(
            payout=batch
        )
        batch.save(update_fields=["entries"])
    return batch, True


def _keyset_pages(qs, time_field: str, size: int):
    """The ids of ``qs`` in (``time_field``, id) order, ``size`` at a time, each with whether more
    may follow (a short page is the last: no query to learn it): keyset pages, so each page is an
    index range however far the walk has gone (no OFFSET)."""
    last = None
    while True:
        page = qs if last is None else qs.filter(Q(**{f"{time_field}__gt": last[0]}) | Q(**{time_field: last[0], "id__gt": last[1]}))
        keys = list(page.order_by(time_field, "id").values_list(time_field, "id")[:size])
        if not keys:
            return
        last = keys[-1]
        yield [k[1] for k in keys], len(keys) == size
