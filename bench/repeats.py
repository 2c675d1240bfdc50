"""Cost of one hidden repeat (subjective projects) against the annotator's history on the
project: statements, Python CPU and PostgreSQL backend CPU per repeat, from the lease that
serves it (``lease_next`` at check rate 1, ``repeats.repeat_take``) through ``answer_submit`` and
``answer_score`` (``quality.services.subjective.repeat_score``: the chance level from the
annotator's answer spread), at ``--histories`` answers of history (default 10 and 10,000).

    DATABASE_URL=postgres://…/<scratch database> .venv/bin/python bench/repeats.py [--histories 10 10000] [--repeats 30]

Each history: a fresh subjective rating project (1–5) whose one annotator has that many scored
answers (bulk-inserted, consistent rater, ANALYZEd), then ``--repeats`` repeats in a row, each
answered as the first time. PostgreSQL CPU is read from ``/proc`` of this connection's backend
(the database runs on this machine); CPU figures do not depend on the machine's load, wall time
does. The script's rows are deleted at the end. Writes to BENCHMARKS.md between
``<!-- bench:repeats:start -->`` and ``<!-- bench:repeats:end -->``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time
import uuid

from _django import ROOT, backend_cpu, setup

START, END = "<!-- bench:repeats:start -->", "<!-- bench:repeats:end -->"


def measure(history: int, repeats: int, gap: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quality import services as quality_services
    from tasks_app import services as task_services
    from tasks_app.models import Answer, Item
    from tests.factories import annotator, annotator_working
    from tests.quality.subjective_sim import project_make, rater_answer

    rng = random.Random(history)
    project = project_make("rating", 1)
    items = Item.objects.bulk_create(
        [Item(project=project, external_id=f"h{i}", data={"text": f"Puppy photo #{i}"}) for i in range(history + repeats * 3)],
        batch_size=5000)
    m = annotator_working(project, annotator(username=f"bench-repeats-{uuid.uuid4().hex[:12]}"), qualifier=(3, 3))
    rows = []
    for i, item in enumerate(items[:history]):
        v = rater_answer("consistent", "rating", item.data, rng)
        rows.append(Answer(item=item, project=project, annotator=m.annotator, label=str(v), value=v,
                           client_key=f"bench-{uuid.uuid4().hex}", scored_at=item.created_at))
    Answer.objects.bulk_create(rows, batch_size=5000)
    Item.objects.filter(pk__in=[it.pk for it in items[:history]]).update(answers_count=1, assigned=1)
    with connection.cursor() as c:
        c.execute("ANALYZE tasks_app_answer; ANALYZE tasks_app_item; ANALYZE tasks_app_lease")
    n = stmts = 0
    cpu = pg = wall = 0.0
    done = 0
    while done < repeats:
        m.refresh_from_db()
        with CaptureQueriesContext(connection) as q:
            c0, p0, w0 = time.process_time(), backend_cpu(), time.perf_counter()
            lease = task_services.lease_next(project=project, annotator=m.annotator, known_check_rate=1.0, rng=rng)
            item = lease.item
            if item.repeat_of_id is not None:
                v = Answer.objects.filter(item_id=item.repeat_of_id, annotator=m.annotator).values_list("value", flat=True).get()
            else:
                v = rater_answer("consistent", "rating", item.data, rng)
            a, _ = task_services.answer_submit(annotator=m.annotator, lease_id=lease.pk, label="", value=v,
                                               client_key=uuid.uuid4().hex)
            quality_services.answer_score(answer_id=a.pk)
            c1, p1, w1 = time.process_time(), backend_cpu(), time.perf_counter()
        if item.repeat_of_id is None:
            continue  # gap not reached by a fresh item or no repeat due: not a repeat, not counted
        done += 1
        n += 1
        stmts += len(q) - 2  # the two pg_backend_pid reads are the bench's own
        cpu += c1 - c0
        pg += p1 - p0
        wall += w1 - w0
    project.delete()
    # the annotator stays: status changes (workforce) protect the user row
    return {"history": history, "n": n, "statements": stmts / n, "cpu_ms": cpu * 1000 / n, "pg_ms": pg * 1000 / n,
            "wall_ms": wall * 1000 / n}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--histories", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--gap", type=int, default=5)
    parser.add_argument("--label", default="", help="a word for the table (e.g. before / after)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    setup(scratch_database=True, eager_celery=True)
    from django.conf import settings

    settings.CADRE_REPEAT_GAP = args.gap
    results = [measure(h, args.repeats, args.gap) for h in args.histories]
    load = os.getloadavg()[0]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"`python bench/repeats.py --histories {' '.join(map(str, args.histories))} --repeats {args.repeats} --gap {args.gap}`"
        f"{' (' + args.label + ')' if args.label else ''}, {now}, load average {load:.1f} on 2 shared cores (CPU figures are "
        f"load-independent, wall is not). Per repeat, mean of {args.repeats}: lease (repeat pick) + submit + score (chance level).",
        "",
        "| answers of history | statements | Python CPU ms | PostgreSQL CPU ms | wall ms |",
        "|---:|---:|---:|---:|---:|",
    ] + [f"| {r['history']:,} | {r['statements']:.1f} | {r['cpu_ms']:.1f} | {r['pg_ms']:.1f} | {r['wall_ms']:.1f} |" for r in results]
    text = "\n".join(lines)
    print(text)
    if args.no_write:
        return
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    if START in doc:
        doc = doc[: doc.index(END)] + "\n" + text + "\n" + doc[doc.index(END):]
    else:
        doc = doc.rstrip("\n") + f"\n\n## Hidden repeats: cost per repeat against history (bench/repeats.py)\n\n{START}\n{text}\n{END}\n"
    path.write_text(doc)


if __name__ == "__main__":
    main()
