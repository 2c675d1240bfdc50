"""Pay ledger figures on PostgreSQL: accrual throughput (accepted answers → ledger entries,
``INSERT … ON CONFLICT DO NOTHING`` in batches of 2,000), a second accrual run over the same
answers (everything already paid: the anti-join only), the hourly-rate selector of one
project, a payout batch over every entry, and the streamed CSV rows.

    DATABASE_URL=postgres://…/<scratch database> .venv/bin/python bench/pay.py [--answers 50000] [--annotators 200]

The database is created if missing and migrated; the script's rows are deleted at the end.
Writes to BENCHMARKS.md between ``<!-- bench:pay:start -->`` and ``<!-- bench:pay:end -->``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
START, END = "<!-- bench:pay:start -->", "<!-- bench:pay:end -->"


def ensure_database(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=50_000)
    parser.add_argument("--annotators", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at a scratch PostgreSQL database")
    ensure_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadre.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tasks_app import services as ts
    from tasks_app.models import Answer, Item, Organization
    from workforce import selectors_pay, services as ws
    from workforce.models import Earning, PayoutBatch

    User = get_user_model()
    tag = uuid.uuid4().hex[:6]
    org = Organization.objects.create(name=f"bench-pay-{tag}")
    project = ts.project_create(organization=org, name=f"bench pay {tag}", instructions="x", labels=["a", "b"],
                                accuracy_target=0.9, examples=[ts.ExampleIn(data={"text": str(i)}, label="a") for i in range(6)])
    users = User.objects.bulk_create([User(username=f"bp-{tag}-{i}") for i in range(args.annotators)])
    per_ann = args.answers // args.annotators
    items = Item.objects.bulk_create(
        [Item(project=project, external_id=f"bp-{i}", data={"text": "x"}, status="accepted", label="a") for i in range(per_ann)],
        batch_size=5000,
    )
    answers = []
    for u in users:
        for j, item in enumerate(items):
            answers.append(Answer(item=item, project=project, annotator=u, label="a" if j % 5 else "b",  # 80 % correct
                                  client_key=uuid.uuid4().hex, duration_ms=30_000 + (j % 7) * 1000,
                                  signals={"visible_ms": 25_000} if j % 2 else {}))
    Answer.objects.bulk_create(answers, batch_size=5000)
    n = len(answers)
    staff = User.objects.create_user(username=f"bp-staff-{tag}", is_staff=True)
    from django.db import connection

    with connection.cursor() as cursor:  # a live database has statistics; fresh bulk inserts do not
        cursor.execute("ANALYZE tasks_app_answer")
        cursor.execute("ANALYZE tasks_app_item")
    load = os.getloadavg()[0]

    t0 = time.perf_counter()
    paid = ws.earnings_accrue_all(max_batches=10_000)
    t_accrue = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = ws.earnings_accrue_all()
    t_again = time.perf_counter() - t0
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
        f"| accrual again (all paid: nothing inserted) | {again} entries | {t_again:.2f} | — |",
        f"| hourly rates of the project (`hourly_rates`) | {n:,} answers → {len(rates)} rates | {t_rates:.2f} | {n / t_rates:,.0f} |",
        f"| payout batch over every entry | {batch.entries:,} entries | {t_batch:.2f} | {batch.entries / t_batch:,.0f} |",
        f"| payout CSV rows (one per annotator) | {csv_rows} rows | {t_csv:.3f} | — |",
    ]
    print("\n".join(lines))
    assert paid == int(n * 0.8) and again == 0 and batch.entries == paid
    # clean up this run's rows (the ledger protects users and projects: entries go first)
    Earning.objects.filter(project=project).delete()
    batch.delete()
    Answer.objects.filter(project=project).delete()
    project.delete()
    org.delete()
    User.objects.filter(username__startswith=f"bp-{tag}").delete()
    User.objects.filter(username=f"bp-staff-{tag}").delete()
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
