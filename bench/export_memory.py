"""Peak memory of a delivery-batch export: a large batch (default 1M items) exported as JSON
Lines, JSON and CSV through the API view (Django's WSGI stack, StreamingHttpResponse), beside
a naive export that builds the whole body in memory, each in a fresh process.

    DATABASE_URL=postgres://... python bench/export_memory.py [--items 1000000]

Writes the figures to BENCHMARKS.md between ``<!-- bench:export_memory:start/end -->``.
Needs PostgreSQL (a database of its own: it creates a project there and leaves it; re-runs reuse
a batch of the same size). ``REDIS_URL`` is ignored (Celery runs in-process here).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _django import ROOT, setup
START, END = "<!-- bench:export_memory:start -->", "<!-- bench:export_memory:end -->"


def django_setup():
    setup(eager_celery=True)  # eager Celery: the batch is certified in this process


def prepare(n: int) -> tuple[int, int, str]:
    """A project with ``n`` decided items and one batch holding them all; returns (project, batch, token)."""
    django_setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from tasks_app import services
    from tasks_app.models import CustomerMember, DeliveryBatch, Organization, Project

    org, _ = Organization.objects.get_or_create(name="bench-export")
    user, _ = get_user_model().objects.get_or_create(username="bench-export")
    CustomerMember.objects.get_or_create(user=user, defaults={"organization": org})
    token, _ = Token.objects.get_or_create(user=user)
    name = f"export bench {n}"
    batch = DeliveryBatch.objects.filter(project__name=name, project__organization=org, items_count=n).first()
    if batch:
        return batch.project_id, batch.number, token.key
    Project.objects.filter(name=name, organization=org).delete()
    project = services.project_create(
        organization=org, name=name, instructions="bench", labels=["cat", "dog", "bird"], accuracy_target=0.9,
        examples=[services.ExampleIn(data={"text": f"ex {i}"}, label=["cat", "dog", "bird"][i % 3]) for i in range(6)],
    )
    t = time.perf_counter()
    services.items_upload(project=project, rows=({"external_id": f"item-{i:07d}", "data": {"text": f"text {i}"}} for i in range(n)))
    upload_s = time.perf_counter() - t
    with connection.cursor() as c:  # as if the engine had decided every item
        c.execute(
            "UPDATE tasks_app_item SET status = 'accepted', label = (ARRAY['cat','dog','bird'])[1 + id %% 3], "
            "p_correct = 0.9 + (id %% 97) / 1000.0, answers_count = 1 + id %% 3, decided_at = now() "
            "WHERE project_id = %s AND is_known = false", [project.pk])
    project = services.project_launch(project=project)
    t = time.perf_counter()
    batch = services.batch_cut(project=project, kind="requested")
    cut_s = time.perf_counter() - t
    print(f"prepared {n} items: upload {upload_s:.1f}s, batch cut + certify {cut_s:.1f}s", flush=True)
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "export_bench_prep.json").write_text(json.dumps({"upload_s": upload_s, "cut_s": cut_s, "n": n}))
    return project.pk, batch.number, token.key


def measure(mode: str, project: int, number: int, token: str) -> dict:
    """In this (fresh) process: export once, count bytes, report peak RSS and traced Python peak."""
    django_setup()
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    client.get(f"/api/projects/{project}/deliveries/{number}/")  # warm-up: URL conf, imports, connection
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    total = 0
    if mode.startswith("naive"):
        from tasks_app.models import DeliveryBatchItem
        from tasks_app.services.exports import FIELDS

        rows = list(DeliveryBatchItem.objects.filter(batch__project_id=project, batch__number=number)
                    .order_by("item_id").values(*FIELDS))
        total = len(json.dumps(rows).encode())
    else:
        fmt = mode.split(":")[1]
        resp = client.get(f"/api/projects/{project}/deliveries/{number}/export/?fmt={fmt}")
        assert resp.status_code == 200 and resp.streaming, resp.status_code
        for chunk in resp.streaming_content:
            total += len(chunk)
        resp.close()
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"mode": mode, "bytes": total, "seconds": secs, "rss_peak_mb": rss / 1024, "rss_before_mb": rss0 / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--ids", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.measure:
        project, number, token = args.ids.split(",")
        print(json.dumps(measure(args.measure, int(project), int(number), token)))
        return
    project, number, token = prepare(args.items)
    results = []
    for mode in ("stream:jsonl", "stream:json", "stream:csv", "naive:json-in-memory"):
        out = subprocess.run(
            [sys.executable, __file__, "--measure", mode, "--ids", f"{project},{number},{token}"],
            capture_output=True, text=True, env=dict(os.environ), cwd=ROOT,
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    prep_file = ROOT / "var" / "export_bench_prep.json"
    prep = json.loads(prep_file.read_text()) if prep_file.exists() else {}
    lines = [
        "## Export memory (bench/export_memory.py)",
        "",
        f"One delivery batch of **{args.items:,} items**, exported through the API view (Django WSGI stack, "
        "`StreamingHttpResponse`, rows read with `iterator(chunk_size=2000)`: a server-side cursor), each export in "
        "a fresh process on PostgreSQL, 2-core machine shared with other work. *Peak RSS* is the whole process's "
        "high-water mark (`ru_maxrss`); *RSS before* is what Python + Django + libraries already held before the "
        "export started, so the difference is what the export itself needed. The last row builds the same rows "
        "as one JSON document in memory (`list(values())` + `json.dumps`), for comparison.",
        "",
        "| export | bytes | seconds | MB/s | peak RSS (MB) | RSS before (MB) | export's own (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mbps = r["bytes"] / 2**20 / r["seconds"] if r["seconds"] else 0
        lines.append(f"| {r['mode']} | {r['bytes']:,} | {r['seconds']:.1f} | {mbps:.1f} | {r['rss_peak_mb']:.0f} | "
                     f"{r['rss_before_mb']:.0f} | {r['rss_peak_mb'] - r['rss_before_mb']:.0f} |")
    if prep:
        lines += ["", f"Setup for the record: uploading the {prep['n']:,} items took {prep['upload_s']:.0f} s; cutting the batch "
                  f"(one `UPDATE … RETURNING` into `INSERT … SELECT`) and certifying it took {prep['cut_s']:.1f} s."]
    lines += ["", f"Command: `DATABASE_URL=postgres://… python bench/export_memory.py --items {args.items}`"]
    if not args.no_write:
        from stack import write_section

        write_section("\n".join(lines), ROOT / "BENCHMARKS.md", START, END)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
