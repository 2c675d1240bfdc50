"""Ops dashboard and metrics cost on PostgreSQL: queries, CPU seconds of this process and wall
seconds for one Prometheus scrape, the all-projects overview's selectors and the project
dashboard's selectors, on one project of ``--answers`` answers by ``--annotators`` annotators
(10 % of them hidden checks), spread over the last ``--hours`` (48).

    DATABASE_URL=postgres://…/<scratch database> .venv/bin/python bench/dashboards.py [--answers 50000] [--annotators 200]

The database is created if missing and migrated; the script's rows are deleted at the end.
Writes to BENCHMARKS.md between ``<!-- bench:dashboards:start -->`` and ``<!-- bench:dashboards:end -->``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time

from _django import ROOT, backend_cpu, setup
START, END = "<!-- bench:dashboards:start -->", "<!-- bench:dashboards:end -->"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=50_000)
    parser.add_argument("--annotators", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each read after the warm one (figures: their mean)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--hours", type=float, default=48, help="the answers' time span (history vs rate)")
    parser.add_argument("--projects", type=int, default=1,
                        help="projects in the overview: the measured one plus this many minus one small ones")
    args = parser.parse_args()
    setup(scratch_database=True)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from dashboards.metrics import render
    from dashboards.selectors import annotators, charts, known, pace
    from dashboards.selectors import metrics as m_sel
    from tasks_app.models import Answer, Item, Organization, Project
    from workforce.models import Membership

    rng = random.Random(7)
    now = timezone.now()
    org = Organization.objects.create(name=f"bench-dashboards-{now.timestamp()}")
    project = Project.objects.create(organization=org, name="bench dashboards", instructions="-", labels=["a", "b"],
                                     accuracy_target=0.9, status="live", phase="production")
    n_items = max(args.answers // 5, 10)
    Item.objects.bulk_create([Item(project=project, external_id=f"i{i}", data={"t": i}) for i in range(n_items)], batch_size=5000)
    Item.objects.bulk_create([Item(project=project, external_id=f"known-{i}", data={"t": -i}, is_known=True, known_label="a")
                              for i in range(100)])
    regular = list(Item.objects.filter(project=project, is_known=False).values_list("id", flat=True))
    known_ids = list(Item.objects.filter(project=project, is_known=True).values_list("id", flat=True))
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench-dash-{now.timestamp()}-{i}") for i in range(args.annotators)])
    Membership.objects.bulk_create([Membership(project=project, annotator=u, stage="working") for u in users])
    per = args.answers // args.annotators
    rows = []
    for u in users:
        checks = rng.sample(known_ids, max(per // 10, 1))
        for j, item_id in enumerate(checks + rng.sample(regular, per - len(checks))):
            created = now - dt.timedelta(seconds=rng.uniform(0, args.hours * 3600))
            rows.append(Answer(item_id=item_id, project=project, annotator=u, label=rng.choice("ab"), client_key=f"{u.pk}-{j}",
                               duration_ms=rng.randint(2000, 30000), is_check=item_id in checks, correct=True if item_id in checks else None,
                               scored_at=created + dt.timedelta(seconds=rng.expovariate(1.0)), created_at=created))
    Answer.objects.bulk_create(rows, batch_size=5000)
    # created_at is auto_now_add (bulk_create stamps now): put it back to the drawn times, latency kept
    from django.db.models import F
    Answer.objects.filter(project=project).update(created_at=F("scored_at") - dt.timedelta(seconds=0.5))
    Item.objects.filter(pk__in=regular[: n_items // 2]).update(status="accepted", decided_at=now - dt.timedelta(hours=3))
    extra = Project.objects.bulk_create([  # small live projects for the overview (its cost per project)
        Project(organization=org, name=f"bench dashboards extra {i}", instructions="-", labels=["a", "b"],
                accuracy_target=0.9, status="live", phase="production") for i in range(args.projects - 1)])
    for p in extra:
        Item.objects.bulk_create([Item(project=p, external_id=f"e{i}", data={"t": i}, is_known=i < 2,
                                       known_label="a" if i < 2 else None) for i in range(10)])

    steps = [
        ("Prometheus scrape (`dashboards.metrics.render`)", render),
        ("the scrape's two counters alone (`answers_scored`, `revocations`)", lambda: (m_sel.answers_scored(), m_sel.revocations())),
        ("overview selectors (`projects_overview`, its first page: all projects in the database)", lambda: pace.projects_overview()),
        ("project: pace + answers-per-hour chart", lambda: (pace.project_pace(project=project), charts.answers_per_hour(project=project))),
        ("project: accuracy-over-time chart (engine claim)", lambda: charts.accuracy_over_time(project=project)),
        ("project: annotator table (flags, hourly rate)", lambda: annotators.annotator_table(project=project)),
        ("project: known-answer health", lambda: known.known_health(project=project)),
    ]
    results = []
    for label, fn in steps:
        fn()  # warm (the scrape's first run also moves the counters' marks: dashboards.counters)
        with CaptureQueriesContext(connection) as q:
            cpu, pg, wall = time.process_time(), backend_cpu(), time.perf_counter()
            for _ in range(args.repeat):
                fn()
            cpu, pg, wall = time.process_time() - cpu, backend_cpu() - pg, time.perf_counter() - wall
        results.append((label, (len(q) - 2) // args.repeat, cpu / args.repeat, pg / args.repeat, wall / args.repeat))
    projects = Project.objects.count()
    project.delete()
    for p in extra:
        p.delete()
    get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()
    org.delete()

    load = os.getloadavg()[0]
    lines = [
        (
            f"PostgreSQL, one process: one project of {len(rows):,} answers by {args.annotators} annotators over {args.hours:g} h "
            f"({n_items:,} items, 100 known; {projects} project(s) in the database for the overview); "
            f"`python bench/dashboards.py --answers {args.answers} --annotators {args.annotators} --projects {args.projects} "
            f"--repeat {args.repeat} --hours {args.hours:g}` on {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
            f"(2-core machine shared with other jobs, load average {load:.1f}: wall seconds are upper bounds; "
            f"queries do not depend on load; CPU seconds: this process's own (Python) and this connection's PostgreSQL "
            f"backend's (from /proc, 10 ms ticks); each figure the mean of {args.repeat} run(s) after a warm one)."
        ),
        "",
        "| read | queries | CPU s (Python) | CPU s (PostgreSQL) | wall s |",
        "|---|---:|---:|---:|---:|",
    ] + [f"| {label} | {n} | {cpu:.3f} | {pg:.3f} | {wall:.3f} |" for label, n, cpu, pg, wall in results]
    text = "\n".join(lines)
    print(text)
    if args.no_write:
        return
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    block = f"{START}\n{text}\n{END}"
    if START in doc:
        doc = doc[: doc.index(START)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + f"\n\n## Ops dashboards and metrics (bench/dashboards.py)\n\n{block}\n"
    path.write_text(doc)


if __name__ == "__main__":
    main()
