"""Exports of a delivery batch as JSON, JSON Lines or CSV, streamed.

Rows come from the database with ``iterator(chunk_size=...)`` (a server-side cursor on
PostgreSQL) and leave as text chunks, so a 1M-item batch never sits in memory (peak measured
in BENCHMARKS.md, ``bench/export_memory.py``). Order is stable: by item id, i.e. upload order,
the same on every download. Fields: external_id, label, p_correct (calibrated), p_model,
answers_used, status; for the structured task types (everything but single choice) also
``value``: the decided structure (``tasks_app.task_types``; JSON text in a CSV cell).
"""
from __future__ import annotations

import csv
import io
import json
from typing import Iterator

from ..models import DeliveryBatch, DeliveryBatchItem

FORMATS = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}
FIELDS = ["external_id", "label", "p_correct", "p_model", "answers_used", "status"]
CHUNK_ROWS = 2000


def _fields(batch: DeliveryBatch) -> list[str]:
    return FIELDS + ["value"] if batch.project.task_type != "single_choice" else FIELDS


def _rows(batch: DeliveryBatch, chunk_size: int) -> Iterator[tuple]:
    columns = ["item__value" if f == "value" else f for f in _fields(batch)]
    return (
        DeliveryBatchItem.objects.filter(batch=batch)
        .order_by("item_id")
        .values_list(*columns)
        .iterator(chunk_size=chunk_size)
    )


def _chunked(lines: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """Join small strings into ~64 KB byte chunks (fewer writes to the socket)."""
    buf: list[str] = []
    n = 0
    for line in lines:
        buf.append(line)
        n += len(line)
        if n >= size:
            yield "".join(buf).encode()
            buf, n = [], 0
    if buf:
        yield "".join(buf).encode()


def batch_export(*, batch: DeliveryBatch, fmt: str, chunk_size: int = CHUNK_ROWS) -> Iterator[bytes]:
    """The batch as ``fmt`` (json, jsonl, csv): an iterator of byte chunks."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    return _chunked(_lines(batch, fmt, chunk_size))


def _lines(batch: DeliveryBatch, fmt: str, chunk_size: int) -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    fields = _fields(batch)
    if fmt == "jsonl":
        for row in _rows(batch, chunk_size):
            yield dumps(dict(zip(fields, row))) + "\n"
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(fields)
        structured = len(fields) > len(FIELDS)
        for row in _rows(batch, chunk_size):
            if structured:
                row = (*row[:-1], None if row[-1] is None else dumps(row[-1]))
            writer.writerow(["" if v is None else v for v in row])
            if out.tell() > 32 * 1024:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()
    else:
        head = {
            "project": batch.project_id, "batch": batch.number, "kind": batch.kind, "created_at": batch.created_at.isoformat(),
            "items_count": batch.items_count, "spec_version": batch.spec_version, "certificate": batch.certificate,
        }
        yield dumps(head)[:-1] + ',"items":['
        first = True
        for row in _rows(batch, chunk_size):
            yield ("" if first else ",") + dumps(dict(zip(fields, row)))
            first = False
        yield "]}\n"
