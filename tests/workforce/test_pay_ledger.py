"""Pay ledger: one write path, idempotent by a database constraint (checked with concurrent
threads on PostgreSQL), the accrual rule (paid when correct), effective hourly rates,
low-pay projects, payout batches and their CSV export."""
from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from cadre.celery import app as celery_app
from tasks_app.models import Item
from tests.conftest import requires_postgres, run_at_once
from workforce import selectors_pay, services
from workforce.models import Earning, PayAccrualMark, PayoutBatch

pytestmark = pytest.mark.django_db


# --- the single write API ----------------------------------------------------------------------

def test_earning_record_is_idempotent_first_write_wins(make_annotator):
    ann = make_annotator()
    e1, created1 = services.earning_record(annotator=ann, kind="survey", source_key="completion-7", amount="1.50")
    e2, created2 = services.earning_record(annotator=ann, kind="survey", source_key="completion-7", amount="9.99")
    assert created1 and not created2
    assert e1.pk == e2.pk and e2.amount == Decimal("1.5000")
    assert Earning.objects.count() == 1
    # the same key under another kind is another thing paid
    _, created3 = services.earning_record(annotator=ann, kind="bonus", source_key="completion-7", amount="2")
    assert created3 and Earning.objects.count() == 2


@pytest.mark.parametrize("kwargs, field", [
    ({"kind": "tip"}, "kind"),
    ({"amount": "-1"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "ten"}, "amount"),
    ({"source_key": ""}, "source_key"),
    ({"source_key": "x" * 101}, "source_key"),
])
def test_earning_record_refuses_bad_input_and_writes_nothing(make_annotator, kwargs, field):
    ann = make_annotator()
    args = {"annotator": ann, "kind": "bonus", "source_key": "b-1", "amount": "1"} | kwargs
    with pytest.raises(ValidationError) as exc:
        services.earning_record(**args)
    assert field in exc.value.message_dict
    assert not Earning.objects.exists()


def test_the_database_not_python_refuses_a_second_entry(make_annotator):
    ann = make_annotator()
    Earning.objects.create(annotator=ann, kind="answer", source_key="42", amount=1, currency="USD")
    with pytest.raises(IntegrityError), transaction.atomic():
        Earning.objects.create(annotator=ann, kind="answer", source_key="42", amount=1, currency="USD")
    with pytest.raises(IntegrityError), transaction.atomic():
        Earning.objects.create(annotator=ann, kind="bonus", source_key="neg", amount=-1, currency="USD")


def _run_threads(n, target):
    """``target()`` in ``n`` threads released at once (tests.conftest.run_at_once); its results."""
    results = []
    errors = run_at_once(range(n), lambda _: results.append(target()))
    assert not errors, errors
    return results


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_of_one_entry_pay_once(make_annotator):
    ann = make_annotator()
    results = _run_threads(8, lambda: services.earning_record(annotator=ann, kind="survey", source_key="c-1", amount="2.00"))
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert len({e.pk for e, _ in results}) == 1
    assert Earning.objects.filter(kind="survey", source_key="c-1").count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_accrual_runs_pay_each_answer_once(make_project, make_annotator, make_answer):
    project = make_project()
    anns = [make_annotator() for _ in range(3)]
    for ann in anns:
        for _ in range(10):
            make_answer(project, ann)
    results = _run_threads(4, lambda: services.earnings_accrue(project=project))
    assert sum(results) == 30  # inserted rows, summed over the runs: no answer twice
    assert Earning.objects.filter(kind="answer").count() == 30
    assert services.earnings_accrue(project=project) == 0


# --- accrual: paid when correct ------------------------------------------------------------------

def test_accrual_pays_answers_that_match_the_accepted_label_and_correct_checks(make_project, make_annotator, make_answer):
    project = make_project()
    services.project_pay_set(project=project, per_answer="0.10", currency="usd")
    ann = make_annotator()
    right = make_answer(project, ann, label="cat", item_label="cat")
    make_answer(project, ann, label="dog", item_label="cat")  # wrong: not paid
    make_answer(project, ann, label="cat", item_status=Item.Status.EXHAUSTED, item_label=None)  # never accepted
    make_answer(project, ann, label="cat", item_status=Item.Status.OPEN)  # not decided yet
    check_ok = make_answer(project, ann, label="cat", check=True)
    make_answer(project, ann, label="dog", check=False)
    assert services.earnings_accrue() == 2
    paid = Earning.objects.filter(kind="answer")
    assert sorted(paid.values_list("source_key", flat=True)) == sorted([str(right.pk), str(check_ok.pk)])
    assert {(e.amount, e.currency, e.project_id, e.annotator_id) for e in paid} == {(Decimal("0.1000"), "USD", project.pk, ann.pk)}
    assert services.earnings_accrue() == 0  # a second run pays nothing again


def test_accrual_uses_the_default_rate_without_project_pay(make_project, make_annotator, make_answer, settings):
    settings.CADRE_PAY_PER_ANSWER = "0.07"
    settings.CADRE_PAY_CURRENCY = "EUR"
    project = make_project()
    make_answer(project, make_annotator())
    assert services.earnings_accrue() == 1
    e = Earning.objects.get()
    assert (e.amount, e.currency) == (Decimal("0.0700"), "EUR")


def test_a_rate_change_applies_to_answers_accrued_afterwards(make_project, make_annotator, make_answer):
    project = make_project()
    ann = make_annotator()
    services.project_pay_set(project=project, per_answer="0.10")
    make_answer(project, ann)
    services.earnings_accrue()
    services.project_pay_set(project=project, per_answer="0.20")
    make_answer(project, ann)
    services.earnings_accrue()
    assert sorted(Earning.objects.values_list("amount", flat=True)) == [Decimal("0.1000"), Decimal("0.2000")]


@pytest.mark.parametrize("rate, currency, field", [("-0.1", "USD", "per_answer"), ("abc", "USD", "per_answer"),
                                                    ("0.1", "US", "currency"), ("0.1", "U$D", "currency")])
def test_project_pay_set_refuses_bad_input(make_project, rate, currency, field):
    project = make_project()
    with pytest.raises(ValidationError) as exc:
        services.project_pay_set(project=project, per_answer=rate, currency=currency)
    assert field in exc.value.message_dict


def test_beat_runs_the_accrual_task(make_project, make_annotator, make_answer):
    entry = settings.CELERY_BEAT_SCHEDULE["accrue-answer-earnings"]
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert entry["task"] in celery_app.tasks
    project = make_project()
    make_answer(project, make_annotator())
    assert celery_app.tasks[entry["task"]].delay().get() == 1
    assert Earning.objects.count() == 1


# --- effective hourly rate ------------------------------------------------------------------------

@pytest.mark.parametrize("duration, visible, expected", [
    (60_000, None, 60_000), (60_000, 30_000, 30_000), (60_000, 90_000, 60_000), (None, 20_000, 20_000),
    (None, None, None), (60_000, "30000", 60_000), (60_000, True, 60_000), (60_000, -5, 60_000),
])
def test_time_on_task(duration, visible, expected):
    assert selectors_pay.time_on_task_ms(duration, visible) == expected


def test_hourly_rate_counts_time_of_wrong_answers_but_not_their_pay(make_project, make_annotator, make_answer):
    project = make_project()
    services.project_pay_set(project=project, per_answer="0.20")
    ann = make_annotator()
    make_answer(project, ann, duration_ms=60_000)  # paid, 1 min
    make_answer(project, ann, duration_ms=120_000, signals={"visible_ms": 60_000})  # paid, 1 visible min
    make_answer(project, ann, label="dog", duration_ms=60_000)  # wrong, 1 min
    make_answer(project, ann, duration_ms=None)  # no time: left out of the rate
    make_answer(project, ann, item_status=Item.Status.OPEN, duration_ms=600_000)  # not settled: left out
    services.earnings_accrue()
    rate = selectors_pay.hourly_rates(annotator=ann)[(ann.pk, project.pk)]
    assert rate.answers == 3 and rate.ms == 180_000
    assert rate.pay == Decimal("0.4")  # the untimed answer's 0.20 is not in it
    assert rate.hourly == Decimal("8.00")  # 0.40 per 3 minutes


def test_projects_paying_below_the_minimum_are_flagged(make_project, make_annotator, make_answer, settings):
    settings.CADRE_MIN_HOURLY_RATE = "10.00"
    settings.CADRE_MIN_RATE_ANSWERS = 4
    cheap, fair, thin, foreign = (make_project(name=n) for n in ("cheap", "fair", "thin", "foreign"))
    services.project_pay_set(project=cheap, per_answer="0.05")  # 3/min... per 60 s answer: 3.00/hour
    services.project_pay_set(project=fair, per_answer="0.50")  # 30.00/hour
    services.project_pay_set(project=thin, per_answer="0.01")  # too few answers to judge
    services.project_pay_set(project=foreign, per_answer="0.01", currency="EUR")  # not compared
    ann = make_annotator()
    for p, n in ((cheap, 4), (fair, 4), (thin, 3), (foreign, 4)):
        for _ in range(n):
            make_answer(p, ann, duration_ms=60_000)
    services.earnings_accrue()
    rows = {r.project.name: r for r in selectors_pay.projects_pay_overview()}
    assert rows["cheap"].flagged and rows["cheap"].hourly == Decimal("3.00") and rows["cheap"].annotators_below == 1
    assert [(r.username, r.hourly, r.answers) for r in rows["cheap"].rates] == [(ann.username, Decimal("3.00"), 4)]
    assert not rows["fair"].flagged and rows["fair"].hourly == Decimal("30.00")
    assert not rows["thin"].flagged and not rows["thin"].enough_data
    assert not rows["foreign"].flagged and not rows["foreign"].compared
    assert selectors_pay.projects_pay_overview()[0].project.name == "cheap"  # flagged first


# --- payouts --------------------------------------------------------------------------------------

def _entry(ann, key, day: dt.date, amount="1.00", currency="USD"):
    e, _ = services.earning_record(annotator=ann, kind="bonus", source_key=key, amount=amount, currency=currency)
    Earning.objects.filter(pk=e.pk).update(created_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))
    return e


def test_payout_batch_takes_the_period_once_and_is_idempotent(make_annotator, staff):
    a, b = make_annotator("alice"), make_annotator("bob")
    today = timezone.now().date()
    d1, d2, d3 = (today - dt.timedelta(days=n) for n in (10, 5, 1))
    _entry(a, "a1", d1)
    _entry(a, "a2", d2, "2.50")
    _entry(b, "b1", d2, "4.00")
    _entry(b, "b2", today)  # period not over: never in a batch for the past
    batch, created = services.payout_create(period_start=d2 - dt.timedelta(days=1), period_end=d3, created_by=staff)
    assert created and batch.entries == 2
    assert set(Earning.objects.filter(payout=batch).values_list("source_key", flat=True)) == {"a2", "b1"}
    again, created = services.payout_create(period_start=d2 - dt.timedelta(days=1), period_end=d3, created_by=staff)
    assert not created and again.pk == batch.pk and again.entries == 2
    # an overlapping period takes only what no batch holds yet
    wider, created = services.payout_create(period_start=d1, period_end=d3, created_by=staff)
    assert created and wider.entries == 1
    assert Earning.objects.get(source_key="a1").payout_id == wider.pk
    assert Earning.objects.get(source_key="a2").payout_id == batch.pk
    assert Earning.objects.get(source_key="b2").payout_id is None


@pytest.mark.parametrize("start, end, field", [(-3, -5, "period_end"), (-3, 0, "period_end"), (-3, 2, "period_end")])
def test_payout_refuses_bad_periods(staff, start, end, field):
    today = timezone.now().date()
    with pytest.raises(ValidationError) as exc:
        services.payout_create(period_start=today + dt.timedelta(days=start), period_end=today + dt.timedelta(days=end),
                               created_by=staff)
    assert field in exc.value.message_dict
    assert not PayoutBatch.objects.exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches_never_share_an_entry(make_annotator, staff):
    ann = make_annotator()
    today = timezone.now().date()
    for i in range(40):
        _entry(ann, f"k{i}", today - dt.timedelta(days=1 + i % 8))
    periods = [(today - dt.timedelta(days=8), today - dt.timedelta(days=1)),
               (today - dt.timedelta(days=9), today - dt.timedelta(days=1)),
               (today - dt.timedelta(days=8), today - dt.timedelta(days=2)),
               (today - dt.timedelta(days=10), today - dt.timedelta(days=1))]
    it = iter(periods)
    lock = threading.Lock()

    def create():
        with lock:
            start, end = next(it)
        return services.payout_create(period_start=start, period_end=end, created_by=staff)[0].pk

    _run_threads(4, create)
    batches = list(PayoutBatch.objects.all())
    assert sum(b.entries for b in batches) == 40
    assert not Earning.objects.filter(payout__isnull=True).exists()
    assert sum(Earning.objects.filter(payout=b).count() for b in batches) == 40


def test_payout_csv_is_streamed_per_annotator_and_safe_in_spreadsheets(client, make_annotator, staff):
    a, evil = make_annotator("alice"), make_annotator("=HYPERLINK(1)")
    day = timezone.now().date() - dt.timedelta(days=2)
    _entry(a, "a1", day, "1.25")
    _entry(a, "a2", day, "2.00")
    _entry(a, "a3", day, "3.00", currency="EUR")
    _entry(evil, "e1", day, "5.00")
    batch, _ = services.payout_create(period_start=day, period_end=day, created_by=staff)
    client.force_login(staff)
    resp = client.get(reverse("workforce:ops_payout_csv", args=[batch.pk]))
    assert resp.status_code == 200 and resp.streaming
    assert resp["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(resp.streaming_content).decode())))
    got = {(r["username"], r["currency"]): (r["entries"], Decimal(r["amount"])) for r in rows}
    assert got == {("alice", "EUR"): ("1", Decimal("3")), ("alice", "USD"): ("2", Decimal("3.25")),
                   ("'=HYPERLINK(1)", "USD"): ("1", Decimal("5"))}
    assert all(r["batch"] == str(batch.pk) and r["period_start"] == str(day) for r in rows)


def test_payouts_page_creates_a_batch_and_reports_bad_periods(client, make_annotator, staff):
    ann = make_annotator()
    day = timezone.now().date() - dt.timedelta(days=3)
    _entry(ann, "x1", day)
    client.force_login(staff)
    url = reverse("workforce:ops_payouts")
    resp = client.post(url, {"period_start": day.isoformat(), "period_end": timezone.now().date().isoformat()}, follow=True)
    assert "The period is not over yet" in resp.content.decode()
    assert not PayoutBatch.objects.exists()
    resp = client.post(url, {"period_start": day.isoformat(), "period_end": day.isoformat()}, follow=True)
    assert "1 entries" in resp.content.decode()
    resp = client.post(url, {"period_start": day.isoformat(), "period_end": day.isoformat()}, follow=True)
    assert "exists already" in resp.content.decode() and PayoutBatch.objects.count() == 1
    resp = client.post(url, {"period_start": "not a date", "period_end": ""})
    assert resp.status_code == 200 and PayoutBatch.objects.count() == 1


# --- pages ----------------------------------------------------------------------------------------

def test_earnings_page_totals_weeks_rate_and_pagination(client, make_project, make_annotator, make_answer):
    project = make_project(name="Cats and dogs")
    services.project_pay_set(project=project, per_answer="0.10")
    ann, other = make_annotator(), make_annotator()
    for _ in range(30):
        make_answer(project, ann, duration_ms=36_000)  # 0.10 per 36 s = 10.00/hour
    make_answer(project, other)
    services.earnings_accrue()
    services.earning_record(annotator=ann, kind="survey", source_key="s-1", amount="0.75", note="Background survey")
    client.force_login(ann)
    resp = client.get(reverse("workforce:earnings"))
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "3.75 USD" in html  # 30 × 0.10 + 0.75
    assert "Cats and dogs" in html and "10.00 USD" in html
    assert "Page 1 of 2" in html and len(resp.context["page"].object_list) == 25
    assert resp.context["by_week"][0]["n"] == 31
    html2 = client.get(reverse("workforce:earnings") + "?page=2").content.decode()
    assert "Background survey" not in html2  # newest first: the survey is on page 1
    assert len(client.get(reverse("workforce:earnings") + "?page=2").context["page"].object_list) == 6


def test_ops_pay_page_shows_flagged_projects(client, make_project, make_annotator, make_answer, staff, settings):
    settings.CADRE_MIN_HOURLY_RATE = "10.00"
    settings.CADRE_MIN_RATE_ANSWERS = 2
    project = make_project(name="Underpaid project")
    services.project_pay_set(project=project, per_answer="0.01")
    ann = make_annotator()
    for _ in range(3):
        make_answer(project, ann)
    services.earnings_accrue()
    client.force_login(staff)
    html = client.get(reverse("workforce:ops_pay")).content.decode()
    assert "1 project paying below the minimum" in html and "Underpaid project" in html and "below minimum" in html
    assert f"<td>{ann.username}</td>" in html  # who is paid least


def test_ops_set_a_project_rate(client, make_project, staff):
    from workforce.models import ProjectPay

    project = make_project(name="Rated")
    client.force_login(staff)
    url = reverse("workforce:ops_pay_rate", args=[project.pk])
    for bad in ({"per_answer": "abc", "currency": "USD"}, {"per_answer": "-1", "currency": "USD"},
                {"per_answer": "0.2", "currency": "1$"}):
        resp = client.post(url, bad, follow=True)
        assert resp.status_code == 200 and any(m.level_tag == "error" for m in resp.context["messages"])
        assert not ProjectPay.objects.exists()
    resp = client.post(url, {"per_answer": "0.25", "currency": "eur"}, follow=True)
    assert "now pays 0.2500 EUR per accepted answer" in resp.content.decode()
    assert (ProjectPay.objects.get().per_answer, ProjectPay.objects.get().currency) == (Decimal("0.25"), "EUR")
    assert client.get(url).status_code == 405


def test_answers_of_a_project_paying_nothing_do_not_hold_up_the_others(make_project, make_annotator, make_answer):
    free, paid = make_project(name="free"), make_project(name="paid")
    services.project_pay_set(project=free, per_answer="0")
    ann = make_annotator()
    for _ in range(5):  # lower ids than the paid project's answers
        make_answer(free, ann)
    for _ in range(3):
        make_answer(paid, ann)
    assert services.earnings_accrue(limit=2) == 3
    assert set(Earning.objects.values_list("project__name", flat=True)) == {"paid"}
    assert services.earnings_accrue(limit=2, max_batches=1) == 0  # first batch: two of the free project's


def test_earnings_page_queries_do_not_grow_with_the_ledger(client, make_project, make_annotator, make_answer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project = make_project()
    ann = make_annotator()
    client.force_login(ann)
    counts = []
    for n in (5, 40):
        for _ in range(n):
            make_answer(project, ann)
        services.earnings_accrue()
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("workforce:earnings")).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


@requires_postgres
def test_hourly_rates_in_sql_match_the_rule_in_python(make_project, make_annotator, make_answer):
    """PostgreSQL aggregates in one query; the Python rule (used on SQLite) is the reference."""
    p1, p2 = make_project(), make_project()
    services.project_pay_set(project=p1, per_answer="0.13")
    services.project_pay_set(project=p2, per_answer="0.07", currency="EUR")
    anns = [make_annotator() for _ in range(3)]
    odd_signals = [{}, {"visible_ms": 12_345}, {"visible_ms": 999_999}, {"visible_ms": "5000"}, {"visible_ms": True},
                   {"visible_ms": -3}, {"visible_ms": 1234.9}, {"visible_ms": None}, {"other": 1}]
    for i in range(60):
        ann, project = anns[i % 3], (p1, p2)[i % 2]
        kind = i % 6
        if kind == 0:
            make_answer(project, ann, label="dog", signals=odd_signals[i % 9], duration_ms=40_000 + i)
        elif kind == 1:
            make_answer(project, ann, item_status=Item.Status.EXHAUSTED, item_label=None, duration_ms=None,
                        signals=odd_signals[i % 9])
        elif kind == 2:
            make_answer(project, ann, item_status=Item.Status.OPEN, duration_ms=70_000)
        elif kind == 3 and Item.objects.filter(project=project, is_known=True).exclude(answers__annotator=ann).exists():
            make_answer(project, ann, check=bool(i % 4), duration_ms=33_000 + i, signals=odd_signals[(i + 1) % 9])
        else:
            make_answer(project, ann, duration_ms=None if i % 5 == 0 else 50_000 + i, signals=odd_signals[i % 9])
    services.earnings_accrue()
    for kwargs in ({}, {"project_ids": [p1.pk]}, {"annotator": anns[1]}, {"project_ids": [p2.pk], "annotator": anns[0]}):
        sql = selectors_pay.hourly_rates(**kwargs)
        py = selectors_pay._hourly_rates_python(**kwargs)
        assert sql.keys() == py.keys() and sql, kwargs
        for key in py:
            a, b = sql[key], py[key]
            assert (a.answers, a.ms, a.pay, a.currency, a.hourly) == (b.answers, b.ms, b.pay, b.currency, b.hourly), key


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_real_worker_runs_the_beat_accrual(celery_worker, make_project, make_annotator, make_answer):
    """The beat entry's task name is registered in a real worker (autodiscovery) and pays."""
    from tests.conftest import wait_for

    project = make_project()
    ann = make_annotator()
    for _ in range(3):
        make_answer(project, ann)
    celery_app.send_task(settings.CELERY_BEAT_SCHEDULE["accrue-answer-earnings"]["task"])
    wait_for(lambda: Earning.objects.filter(kind="answer").count() == 3, message="the worker's accrual")
    assert "workforce.earnings_accrue" in celery_worker["log"].read_text()


# --- incremental accrual (the beat's run walks what changed, not the history) --------------------

def _scored(answer, when):
    """What scoring leaves: ``scored_at`` stamped (the fixture's answers have none)."""
    type(answer).objects.filter(pk=answer.pk).update(scored_at=when)
    return answer


def test_incremental_run_pays_what_changed_since_the_watermark_and_not_the_history(make_project, make_annotator,
                                                                                    make_answer, settings):
    """After the first run (a full sweep), a run reads only answers scored and items decided
    since the last run (minus the overlap): an old answer made payable without either time moving
    (a corrected known-answer key) is not seen again until the next sweep — proof that the
    run does not rescan the history — and the sweep then pays it, once."""
    settings.CADRE_PAY_ACCRUE_OVERLAP_SECONDS = 60
    settings.CADRE_PAY_SWEEP_HOURS = 24
    project = make_project()
    ann = make_annotator()
    t0 = timezone.now()
    old = [make_answer(project, ann) for _ in range(3)]
    wrong_check = _scored(make_answer(project, ann, label="dog", check=False), t0 - dt.timedelta(hours=2))
    assert services.earnings_accrue_all(now=t0) == 3  # no watermark yet: the sweep
    mark = PayAccrualMark.objects.get()
    assert mark.scanned_to == t0 and mark.swept_at == t0

    # an hour later: a new accepted answer (decided now), a late answer to an accepted item
    # (scored now), a check scored now; and the old wrong check's key corrected (correct flips,
    # no time moves)
    t1 = t0 + dt.timedelta(hours=1)
    Item.objects.filter(pk__in=[a.item_id for a in old]).update(decided_at=t0 - dt.timedelta(hours=2))
    fresh = make_answer(project, ann)
    Item.objects.filter(pk=fresh.item_id).update(decided_at=t1 - dt.timedelta(seconds=5))
    late = make_answer(project, ann)
    Item.objects.filter(pk=late.item_id).update(decided_at=t0 - dt.timedelta(hours=3))
    _scored(late, t1 - dt.timedelta(seconds=3))
    check = _scored(make_answer(project, ann, check=True), t1 - dt.timedelta(seconds=1))
    type(wrong_check).objects.filter(pk=wrong_check.pk).update(correct=True)
    assert services.earnings_accrue_all(now=t1) == 3
    assert set(Earning.objects.filter(kind="answer").values_list("source_key", flat=True)) == {
        str(a.pk) for a in [*old, fresh, late, check]}
    assert PayAccrualMark.objects.get().scanned_to == t1

    t2 = t1 + dt.timedelta(minutes=5)
    assert services.earnings_accrue_all(now=t2) == 0  # the corrected check is older than the window
    t3 = t0 + dt.timedelta(hours=24)
    assert services.earnings_accrue_all(now=t3) == 1  # the sweep is due: reconciled
    assert Earning.objects.filter(kind="answer", source_key=str(wrong_check.pk)).count() == 1
    assert PayAccrualMark.objects.get().swept_at == t3
    assert services.earnings_accrue_all(now=t3 + dt.timedelta(minutes=5)) == 0


def test_incremental_run_overlap_catches_a_late_commit(make_project, make_annotator, make_answer, settings):
    """A scoring transaction that stamped ``scored_at`` before the last run started but committed
    after it is still inside the next run's window (the overlap)."""
    settings.CADRE_PAY_ACCRUE_OVERLAP_SECONDS = 600
    project = make_project()
    ann = make_annotator()
    t0 = timezone.now()
    services.earnings_accrue_all(now=t0)
    straggler = _scored(make_answer(project, ann, check=True), t0 - dt.timedelta(seconds=30))
    assert services.earnings_accrue_all(now=t0 + dt.timedelta(minutes=1)) == 1
    assert Earning.objects.get(kind="answer").source_key == str(straggler.pk)


def test_a_run_cut_short_leaves_the_watermark(make_project, make_annotator, make_answer):
    project = make_project()
    ann = make_annotator()
    t0 = timezone.now()
    services.earnings_accrue_all(now=t0)
    for i in range(3):
        _scored(make_answer(project, ann, check=True), t0 + dt.timedelta(seconds=i + 1))
    t1 = t0 + dt.timedelta(minutes=1)
    before = PayAccrualMark.objects.get().scanned_to
    paid, finished = services.earnings_accrue_since(since=t0, limit=2, max_batches=1)
    assert (paid, finished) == (2, False)
    assert services.earnings_accrue_all(now=t1, max_batches=0) == 0  # cut short at once
    assert PayAccrualMark.objects.get().scanned_to == before
    assert services.earnings_accrue_all(now=t1) == 1
    assert PayAccrualMark.objects.get().scanned_to == t1


def test_incremental_run_queries_do_not_grow_with_the_history(make_project, make_annotator, make_answer):
    """The same change (one new accepted answer) costs the same queries after 5 or 60 paid answers."""
    from django.test.utils import CaptureQueriesContext

    project = make_project()
    ann = make_annotator()
    counts, t = [], timezone.now()
    for n in (5, 60):
        for _ in range(n):
            make_answer(project, ann)
        services.earnings_accrue_all(now=t + dt.timedelta(days=len(counts) + 1))  # a sweep
        t_run = t + dt.timedelta(days=len(counts) + 1, minutes=5)
        Item.objects.update(decided_at=t_run - dt.timedelta(days=1))
        fresh = make_answer(project, ann)
        Item.objects.filter(pk=fresh.item_id).update(decided_at=t_run - dt.timedelta(seconds=1))
        with CaptureQueriesContext(connection) as ctx:
            assert services.earnings_accrue_all(now=t_run) == 1
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_incremental_runs_pay_each_answer_once_and_move_the_mark_forward(make_project, make_annotator,
                                                                                   make_answer):
    project = make_project()
    anns = [make_annotator() for _ in range(3)]
    t0 = timezone.now()
    services.earnings_accrue_all(now=t0)  # the first sweep sets the watermark
    for i, ann in enumerate(anns):
        for j in range(8):
            a = make_answer(project, ann)
            Item.objects.filter(pk=a.item_id).update(decided_at=t0 + dt.timedelta(seconds=i * 8 + j + 1))
    starts = [t0 + dt.timedelta(minutes=m) for m in (1, 2, 3, 4)]
    results = _run_threads(4, lambda: services.earnings_accrue_all(now=starts.pop(), max_batches=50))
    assert sum(results) == 24  # inserted rows, summed over the runs: no answer twice
    assert Earning.objects.filter(kind="answer").count() == 24
    assert PayAccrualMark.objects.get().scanned_to == t0 + dt.timedelta(minutes=4)  # the latest start, whoever ended last
    assert services.earnings_accrue_all(now=t0 + dt.timedelta(minutes=5)) == 0
