"""A seeded project for the dashboard tests: answers, decisions, leases, batches, gating
decisions and flags at known times, so selectors, pages, charts and metrics can be checked
against numbers worked out here by hand (``Seed`` keeps them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from quality.models import AnnotatorQuality, GatingDecision, KnownAnswerFlag
from tasks_app.models import Answer, DeliveryBatch, Item, Lease, Organization, Project
from tests import factories
from workforce.models import Membership
from workforce.services.pay import earning_record


@dataclass
class Seed:
    project: Project
    now: datetime
    users: dict
    answer_times: list[datetime] = field(default_factory=list)  # created_at of every answer
    check_times: list[datetime] = field(default_factory=list)
    decided_times: list[datetime] = field(default_factory=list)  # decided_at of regular decided items
    latencies: list[float] = field(default_factory=list)  # scored answers' scored_at - created_at (s)
    unscored_at: datetime | None = None
    batches: list[dict] = field(default_factory=list)
    overused_item: str = ""
    disputed_item: str = ""


def hour_of(t: datetime) -> str:
    return t.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%d %H:00")


def seed_project(name: str = "Seeded dashboard project", prefix: str = "seed") -> Seed:
    org = Organization.objects.create(name=f"Org of {name}")
    project = factories.make_project(org, n_items=10, n_examples=10, name=name, accuracy_target=0.9)
    now = timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    users = {}
    for i in range(1, 7):
        m = factories.annotator_working(project, factories.annotator(username=f"{prefix}-u{i}"), qualifier=(9, 10))
        users[f"u{i}"] = m.annotator
    Membership.objects.filter(project=project, annotator=users["u2"]).update(standing="revoked", standing_reason="SEED-REVOKED")
    Membership.objects.filter(project=project, annotator=users["u3"]).update(standing="warned", standing_reason="SEED-WARNED")
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    known = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    s = Seed(project=project, now=now, users=users)

    def answer(user, item, created, *, latency=1.5, ms=10_000, signals=None, scored=True):
        is_check = item.is_known
        a = Answer.objects.create(
            item=item, project=project, annotator=users[user], label=item.known_label or "positive",
            client_key=f"{user}-{item.pk}", duration_ms=ms, signals=signals or {}, is_check=is_check,
            correct=True if is_check and scored else None,
            scored_at=created + timedelta(seconds=latency) if scored else None,
        )
        Answer.objects.filter(pk=a.pk).update(created_at=created)
        s.answer_times.append(created)
        if is_check:
            s.check_times.append(created)
        if scored:
            s.latencies.append(latency)
        return a

    h0, h1 = end - timedelta(hours=2) + timedelta(minutes=5), end - timedelta(hours=1) + timedelta(minutes=5)
    answer("u1", regular[0], h0)
    answer("u1", regular[1], h0)
    for i in range(1, 7):  # known item 0 served six times: overused
        answer(f"u{i}", known[0], h0, latency=0.2)
    answer("u1", regular[2], h1, latency=40.0)
    answer("u1", regular[3], h1)
    answer("u2", regular[0], h1, ms=1_000, signals={"pastes": 1, "visible_ms": 900})
    answer("u2", regular[1], h1, ms=1_000)
    answer("u1", known[1], end)
    answer("u2", regular[5], now - timedelta(hours=30))  # outside the 24 h window
    s.unscored_at = now - timedelta(minutes=10)
    answer("u3", regular[4], s.unscored_at, scored=False)

    decided = [(regular[0], h1 + timedelta(minutes=10)), (regular[1], h1 + timedelta(minutes=10)),
               (regular[2], now - timedelta(seconds=1)), (regular[3], now - timedelta(seconds=1))]
    for item, at in decided:
        Item.objects.filter(pk=item.pk).update(status="accepted", label="positive", p_correct=0.97, decided_at=at)
        s.decided_times.append(at)
    Item.objects.filter(pk=regular[6].pk).update(status="exhausted", decided_at=now - timedelta(hours=30))

    # u1 is paid 0.05 for each of its four accepted regular answers: 0.20 over 6 settled answers of 10 s = 12.00/h
    for a in Answer.objects.filter(annotator=users["u1"], project=project, is_check=False):
        earning_record(annotator=users["u1"], kind="answer", source_key=str(a.pk), amount=Decimal("0.05"),
                       currency="USD", project=project)

    AnnotatorQuality.objects.update_or_create(project=project, annotator=users["u1"],
                                              defaults={"alpha": 19, "beta": 1, "checks": 2, "checks_correct": 2})
    AnnotatorQuality.objects.update_or_create(project=project, annotator=users["u2"],
                                              defaults={"alpha": 4, "beta": 6, "checks": 1, "checks_correct": 1})
    AnnotatorQuality.objects.update_or_create(project=project, annotator=users["u3"],
                                              defaults={"alpha": 7, "beta": 3, "checks": 1, "checks_correct": 1})

    Lease.objects.create(item=regular[7], project=project, annotator=users["u4"], expires_at=now + timedelta(minutes=2))
    Lease.objects.create(item=regular[7], project=project, annotator=users["u5"], expires_at=now + timedelta(minutes=20))
    Lease.objects.create(item=regular[8], project=project, annotator=users["u6"], expires_at=now - timedelta(minutes=1))
    Lease.objects.create(item=regular[8], project=project, annotator=users["u4"], state="submitted",
                         expires_at=now + timedelta(minutes=5))

    for number, (est, lo, hi, n, cert, age) in enumerate([(0.88, 0.81, 0.94, 40, False, 20), (0.93, 0.9, 0.96, 80, True, 3)], 1):
        b = DeliveryBatch.objects.create(project=project, number=number, kind="incremental", items_count=2, certificate={
            "estimated_accuracy": est, "interval_lower": lo, "interval_upper": hi, "sample_size": n, "certified": cert})
        at = now - timedelta(hours=age)
        DeliveryBatch.objects.filter(pk=b.pk).update(created_at=at, certificate_updated_at=at)
        s.batches.append({"when": at, "estimate": est, "lower": lo, "upper": hi, "n": n, "certified": cert})
    DeliveryBatch.objects.create(project=project, number=3, kind="requested", items_count=0, certificate={})  # not certified yet

    for user, standing, prev in (("u2", "warned", "active"), ("u2", "paused", "warned"), ("u2", "revoked", "paused"),
                                 ("u3", "warned", "active")):
        GatingDecision.objects.create(project=project, annotator=users[user], standing=standing, previous_standing=prev,
                                      reason=f"SEED-{standing.upper()}", checks=10, checks_correct=5, accuracy=0.5,
                                      accuracy_lower=0.3, accuracy_upper=0.7, bar=0.8)
    KnownAnswerFlag.objects.create(item=known[1], project=project, key_label=known[1].known_label,
                                   suggested_label="negative", p_key_correct=0.2, model_version="seed")
    s.overused_item, s.disputed_item = known[0].external_id, known[1].external_id
    return s
