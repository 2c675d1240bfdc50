"""Exports of a delivery batch as JSON, JSON Lines or CSV, streamed.

Rows come from the database with ``iterator(chunk_size=...)`` (a server-side cursor on
PostgreSQL) and leave as text chunks, so a 1M-item batch never sits in memory (peak measured
in BENCHMARKS.md, ``bench/export_memory.py``). Order is stable: by item id, i.e. upload order,
the same on every download. Fields: external_id, label, p_correct (calibrated), p_model,
answers_used, status; for the structured task types (everything but single choice) also
``value``: the decided structure (``tasks_app.task_types``; JSON text in a CSV cell).

``coco`` (bounding-box projects only): the batch as a COCO object-detection file, one JSON
object ``{info, licenses, categories, images, annotations}``. Boxes are kept as fractions of the
image; COCO wants pixels, so every image needs its size: ``data.width`` / ``data.height`` on the
item, given by the customer at upload (checked: whole numbers 1..100000) or, failing that,
reported by the first annotator's browser (the image's natural size; kept in the item's data,
first valid report wins: ``items.item_image_size_report``). ``images``: one per delivered item,
``id`` = Cadre's item id, ``file_name`` = the image URL, ``width``, ``height``, plus
``cadre_external_id`` and ``cadre_status``; ``annotations``: one per decided box, ``bbox``
``[x, y, w, h]`` in pixels (2 decimals), ``area`` w*h, ``iscrowd`` 0, ``category_id`` the class's
1-based position in the project's labels, ``score`` the item's calibrated P(correct) when the
batch is certified (left out while it is not known). An item delivered without a value (uncertain,
no consensus) is an image without annotations. If any delivered item has no size the export is
refused before a byte is written (:func:`export_problem`: 409 naming how many and which).
"""
from __future__ import annotations

import csv
import io
import json
from typing import Iterator

from django.db.models.fields.json import KeyTransform

from .. import task_types
from ..models import DeliveryBatch, DeliveryBatchItem

FORMATS = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "coco": "application/json",
}
SIZE_EXAMPLES = 10
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


def export_problem(*, batch: DeliveryBatch, fmt: str) -> tuple[int, dict] | None:
    """Why ``batch`` cannot be exported as ``fmt``, as (HTTP status, body), or None. Checked
    before streaming starts, so a refused export writes nothing: COCO is for bounding-box
    projects (400), and every delivered item needs its image size (409 with the count and up
    to 10 external ids of the items without one)."""
    if fmt != "coco":
        return None
    if batch.project.task_type != task_types.BBOX:
        return 400, {"fmt": ["coco is for bounding-box projects only."]}
    missing, examples = 0, []
    for ext, w, h in (
        DeliveryBatchItem.objects.filter(batch=batch).order_by("item_id")
        .values_list("external_id", "item__data__width", "item__data__height").iterator(chunk_size=CHUNK_ROWS)
    ):
        if not task_types.image_size_valid(w, h):
            missing += 1
            if len(examples) < SIZE_EXAMPLES:
                examples.append(ext)
    if missing:
        return 409, {
            "detail": f"{missing} of the batch's {batch.items_count} items have no image size (data.width / data.height "
            "in pixels), which COCO needs: give them at upload, or let annotators open the items (the task page "
            "reports the image's size). The JSON, JSON Lines and CSV exports carry the boxes as fractions.",
            "items_without_size": missing,
            "examples": examples,
        }
    return None


def batch_export(*, batch: DeliveryBatch, fmt: str, chunk_size: int = CHUNK_ROWS) -> Iterator[bytes]:
    """The batch as ``fmt`` (json, jsonl, csv, coco): an iterator of byte chunks. For coco the
    caller checks :func:`export_problem` first."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "coco":
        return _chunked(_coco_lines(batch, chunk_size))
    return _chunked(_lines(batch, fmt, chunk_size))


def _px(v: float) -> float:
    return round(v, 2)


def _coco_lines(batch: DeliveryBatch, chunk_size: int) -> Iterator[str]:
    """Two passes over the batch in item order (images, then annotations), each a server-side
    cursor: nothing per item is held between them (the sizes are read again)."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    project = batch.project
    field = project.type_config.get("image_field", "image")
    categories = {label: i for i, label in enumerate(project.labels, start=1)}
    info = {
        "description": f"Cadre project {project.pk} ({project.name}), delivery batch {batch.number}",
        "version": str(batch.spec_version), "date_created": batch.created_at.isoformat(),
        "cadre": {"project": project.pk, "batch": batch.number, "kind": batch.kind, "certificate": batch.certificate},
    }
    cats = [{"id": i, "name": label, "supercategory": ""} for label, i in categories.items()]
    yield '{"info":' + dumps(info) + ',"licenses":[],"categories":' + dumps(cats) + ',"images":['
    rows = DeliveryBatchItem.objects.filter(batch=batch).order_by("item_id")
    first = True
    # the image field by KeyTransform, not an ``item__data__<field>`` path: a name with "__" is one key
    for item_id, ext, status, url, w, h in rows.annotate(image_url=KeyTransform(field, "item__data")).values_list(
        "item_id", "external_id", "status", "image_url", "item__data__width", "item__data__height"
    ).iterator(chunk_size=chunk_size):
        image = {"id": item_id, "file_name": url, "width": w, "height": h, "cadre_external_id": ext, "cadre_status": status}
        yield ("" if first else ",") + dumps(image)
        first = False
    yield '],"annotations":['
    first, ann_id = True, 0
    for item_id, value, p, w, h in rows.values_list(
        "item_id", "item__value", "p_correct", "item__data__width", "item__data__height"
    ).iterator(chunk_size=chunk_size):
        if not isinstance(value, list):
            continue
        for b in value:
            ann_id += 1
            bw, bh = _px(b["w"] * w), _px(b["h"] * h)
            ann = {"id": ann_id, "image_id": item_id, "category_id": categories[b["label"]],
                   "bbox": [_px(b["x"] * w), _px(b["y"] * h), bw, bh], "area": _px(bw * bh), "iscrowd": 0}
            if p is not None:
                ann["score"] = p
            yield ("" if first else ",") + dumps(ann)
            first = False
    yield "]}\n"


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
