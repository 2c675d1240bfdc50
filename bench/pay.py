"""Pay ledger figures on PostgreSQL: accrual throughput (accepted answers → ledger entries,
``INSERT … ON CONFLICT DO NOTHING`` in batches of 2,000), what one beat run costs once the
history is paid — the full walk over every payable answer (the accrual before the watermark,
now the daily sweep) against the incremental run (answers scored and items decided since the
last run) — with nothing new and with 1,000 new accepted answers, the hourly-rate selector of
one project, a payout batch over every entry, and the streamed CSV rows.

    DATABASE_URL=postgres://…/<scratch database> .venv/bin/python bench/pay.py [--answers 50000] [--annotators 200]

The database is created if missing and migrated; the script's rows are deleted at the end
(and the accrual watermark row, which it resets at the start: the first run is the sweep).
Writes to BENCHMARKS.md between ``<!-- bench:pay:start -->`` and ``<!-- bench:pay:end -->``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import uuid

from _django import ROOT, setup

START, END = "<!-- bench:pay:start -->", "<!-- bench:pay:end -->"


def best_of(runs: int, fn):
    """(result of the last run, least wall seconds, least process CPU seconds) over ``runs``."""
    wall, cpu, out = [], [], None
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return out, min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=50_000)
    parser.add_argument("--annotators", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    setup(scratch_database=True, eager_celery=True)
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tasks_app import services as ts
    from tasks_app.models import Answer, Item, Organization
    from workforce import selectors_pay, services as ws
    from workforce.models import Earning, PayAccrualMark, PayoutBatch

    User = get_user_model()
    tag = uuid.uuid4().hex[:6]
    org = Organization.objects.create(name=f"bench-pay-{tag}")
    project = ts.project_create(organization=org, name=f"bench pay {tag}", instructions="x", labels=["a", "b"],
                                accuracy_target=0.9, examples=[ts.ExampleIn(data={"text": str(i)}, label="a") for i in range(6)])
    users = User.objects.bulk_create([User(username=f"bp-{tag}-{i}") for i in range(args.annotators)])
    per_ann = args.answers // args.annotators
    past = timezone.now() - dt.timedelta(days=2)  # the history: scored and decided two days ago

    def accepted_answers(tag_: str, n_items: int, annotators, when) -> list:
        items = Item.objects.bulk_create(
            [Item(project=project, external_id=f"bp-{tag_}-{i}", data={"text": "x"}, status="accepted", label="a",
                  decided_at=when) for i in range(n_items)],
            batch_size=5000,
        )
        answers = []
        for u in annotators:
            for j, item in enumerate(items):
                answers.append(Answer(item=item, project=project, annotator=u, label="a" if j % 5 else "b",  # 80 % correct
                                      client_key=uuid.uuid4().hex, duration_ms=30_000 + (j % 7) * 1000,
                                      signals={"visible_ms": 25_000} if j % 2 else {},
                                      scored_at=when - dt.timedelta(seconds=1)))  # scored, then the item decided
        return Answer.objects.bulk_create(answers, batch_size=5000)

    n = len(accepted_answers("h", per_ann, users, past))
    PayAccrualMark.objects.all().delete()  # the first run below is the sweep
    staff = User.objects.create_user(username=f"bp-staff-{tag}", is_staff=True)
    from django.db import connection

    with connection.cursor() as cursor:  # a live database has statistics; fresh bulk inserts do not
        cursor.execute("ANALYZE tasks_app_answer")
        cursor.execute("ANALYZE tasks_app_item")
    load = os.getloadavg()[0]

    t0 = time.perf_counter()
    paid = ws.earnings_accrue_all(max_batches=10_000)
    t_accrue = time.perf_counter() - t0
    # one beat run once everything is paid: before (the full walk) and after (incremental)
    again_full, t_full, c_full = best_of(3, ws.earnings_accrue)
    again, t_again, c_again = best_of(3, ws.earnings_accrue_all)
    # 1,000 new accepted answers (200 items × 5 annotators, 80 % correct) since the last run: a new set
    # paid by the full walk, then another by the incremental run, three times (best of 3)
    full_new, incr_new, new_total = [], [], 0
    for r in range(3):
        for runs, fn in ((full_new, ws.earnings_accrue), (incr_new, ws.earnings_accrue_all)):
            new_total += len(accepted_answers(f"n{r}-{len(runs)}-{fn.__name__}", 200, users[:5], timezone.now()))
            w0, c0 = time.perf_counter(), time.process_time()
            paid_now = fn()
            runs.append((time.perf_counter() - w0, time.process_time() - c0, paid_now))
    t_full_new, c_full_new = min(r[0] for r in full_new), min(r[1] for r in full_new)
    t_incr_new, c_incr_new = min(r[0] for r in incr_new), min(r[1] for r in incr_new)
    paid_full_new, paid_incr_new = full_new[-1][2], incr_new[-1][2]
    assert {r[2] for r in full_new + incr_new} == {800}
    n_all = n + new_total
    t0 = time.perf_counter()
    rates = selectors_pay.hourly_rates(project_ids=[project.pk])
    t_rates = time.perf_counter() - t0
    Earning.objects.filter(project=project).update(created_at=timezone.now() - dt.timedelta(days=2))
    day = (timezone.now() - dt.timedelta(days=2)).date()
    PayoutBatch.objects.filter(period_start=day, period_end=day).delete()
    t0 = time.perf_counter()
    batch, _ = ws.payout_create(period_start=day, period_end=day, created_by=staff)
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    csv_rows = sum(1 for _ in selectors_pay.payout_rows(batch=batch))
    t_csv = time.perf_counter() - t0

    lines = [
        f"PostgreSQL, one process, {n:,} answers of {args.annotators} annotators on one project (80 % correct on accepted items); "
        f"`python bench/pay.py --answers {args.answers} --annotators {args.annotators}` on {dt.date.today()} "
        f"(2-core machine shared with other jobs: load average {load:.1f} at the start, so these are lower bounds).",
        "",
        "| step | rows | seconds | rows/s |",
        "|---|---:|---:|---:|",
        f"| accrual, first run (`earnings_accrue_all`) | {paid:,} entries | {t_accrue:.2f} | {paid / t_accrue:,.0f} |",
        "",
        "One beat run after that (wall seconds, best of 3; in brackets the bench process's own CPU "
        "seconds — the rest of the work is PostgreSQL's):",
        "",
        "| run | history | new | entries | full walk (before: every run; now the daily sweep) | incremental run (now) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| nothing new | {n:,} answers | 0 | {again_full} / {again} | {t_full:.3f} ({c_full:.3f}) | {t_again:.4f} ({c_again:.4f}) |",
        f"| 1,000 new accepted answers | {n:,} answers | 1,000 | {paid_full_new} / {paid_incr_new} | {t_full_new:.3f} ({c_full_new:.3f}) | {t_incr_new:.4f} ({c_incr_new:.4f}) |",
        "",
        "| step | rows | seconds | rows/s |",
        "|---|---:|---:|---:|",
        f"| hourly rates of the project (`hourly_rates`) | {n_all:,} answers → {len(rates)} rates | {t_rates:.2f} | {n_all / t_rates:,.0f} |",
        f"| payout batch over every entry | {batch.entries:,} entries | {t_batch:.2f} | {batch.entries / t_batch:,.0f} |",
        f"| payout CSV rows (one per annotator) | {csv_rows} rows | {t_csv:.3f} | — |",
    ]
    print("\n".join(lines))
    assert paid == int(n * 0.8) and again == again_full == 0 and paid_full_new == paid_incr_new == 800
    assert batch.entries == paid + 6 * 800
    # clean up this run's rows (the ledger protects users and projects: entries go first)
    Earning.objects.filter(project=project).delete()
    batch.delete()
    Answer.objects.filter(project=project).delete()
    project.delete()
    org.delete()
    User.objects.filter(username__startswith=f"bp-{tag}").delete()
    User.objects.filter(username=f"bp-staff-{tag}").delete()
    PayAccrualMark.objects.all().delete()
    if not args.no_write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text()
        block = f"{START}\n" + "\n".join(lines) + f"\n{END}"
        if START in text:
            text = text[: text.index(START)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n## Pay ledger (bench/pay.py)\n\n" + block + "\n"
        path.write_text(text)


if __name__ == "__main__":
    main()
