"""The scoring glue on a real database: posterior updates, gating, acceptance, idempotency."""
from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model

from quality import services as quality_services
from quality.models import AnnotatorQuality, GatingDecision
from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Lease, Organization
from workforce.models import Membership

User = get_user_model()


def setup_project(n_items=6, n_known=12, max_answers=3, target=0.9):
    org = Organization.objects.create(name=f"org-{uuid.uuid4().hex[:6]}")
    examples = [task_services.ExampleIn(data={"t": f"tut{i}"}, label="a", role="tutorial") for i in range(2)]
    examples += [task_services.ExampleIn(data={"t": f"q{i}"}, label="b", role="qualifier") for i in range(2)]
    examples += [
        task_services.ExampleIn(data={"t": f"k{i}"}, label="a" if i % 2 else "b", role="known") for i in range(n_known)
    ]
    project = task_services.project_create(
        organization=org, name="p", instructions="i", labels=["a", "b"], accuracy_target=target,
        examples=examples, max_answers=max_answers,
    )
    task_services.items_upload(project=project, rows=[{"external_id": f"x{i}", "data": {"t": i}} for i in range(n_items)])
    task_services.project_launch(project=project)
    return project


def worker(project, name, qualifier=(2, 2)):
    user = User.objects.create_user(name, password="long-enough-pass")
    Membership.objects.create(
        project=project, annotator=user, stage=Membership.Stage.WORKING,
        qualifier_correct=qualifier[0], qualifier_total=qualifier[1], tutorial_completed_at="2026-01-01T00:00Z",
    )
    return user


def answer(project, user, item, label):
    """Lease exactly this item for the user and answer it (bypasses the random pick)."""
    from datetime import timedelta

    from django.utils import timezone

    lease = Lease.objects.create(item=item, project=project, annotator=user, expires_at=timezone.now() + timedelta(minutes=5))
    Item.objects.filter(pk=item.pk).update(assigned=item.assigned + 1)
    a, _ = task_services.answer_submit(annotator=user, lease_id=lease.pk, label=label, client_key=uuid.uuid4().hex)
    return a


@pytest.mark.django_db(transaction=True)
def test_check_updates_posterior_once_even_if_scored_twice():
    project = setup_project()
    u = worker(project, "w1")
    known = Item.objects.filter(project=project, is_known=True).first()
    a = answer(project, u, known, known.known_label)  # scored eagerly on commit
    aq = AnnotatorQuality.objects.get(project=project, annotator=u)
    assert (aq.checks, aq.checks_correct) == (1, 1)
    again = quality_services.answer_score(answer_id=a.pk)
    assert again.scored is False and again.detail == "already scored"
    aq.refresh_from_db()
    assert (aq.checks, aq.checks_correct) == (1, 1)
    a.refresh_from_db()
    assert a.correct is True and a.scored_at is not None


@pytest.mark.django_db(transaction=True)
def test_poor_annotator_is_warned_paused_then_revoked_and_loses_leases():
    """Graded gating (SPRT): warned, then paused (back to the tutorial, leases released);
    completing the tutorial makes them active again with a note; still wrong → revoked."""
    from workforce import services as wf_services

    project = setup_project(n_known=16)
    u = worker(project, "bad", qualifier=(1, 2))
    knowns = iter(Item.objects.filter(project=project, is_known=True).order_by("id"))
    standings = []

    def wrong_once():
        item = next(knowns)
        answer(project, u, item, "a" if item.known_label == "b" else "b")
        standings.append(Membership.objects.get(project=project, annotator=u).standing)

    while "paused" not in standings:
        wrong_once()
    assert standings.index("warned") < standings.index("paused")
    m = Membership.objects.get(project=project, annotator=u)
    assert "tutorial" in m.standing_reason and "hidden check" in m.standing_reason
    assert not m.can_work
    assert not Lease.objects.filter(annotator=u, state=Lease.State.ACTIVE).exists()
    paused = GatingDecision.objects.get(project=project, annotator=u, standing="paused")
    assert paused.model_version.startswith("sprt-1") and paused.evidence["llr"] >= paused.evidence["thresholds"]["pause"]
    assert paused.evidence["checks"] == paused.checks and len(paused.evidence["checks_listed"]) >= paused.checks - 1
    wf_services.tutorial_complete(membership=m)
    m.refresh_from_db()
    assert m.standing == "active" and m.can_work and "Back from the tutorial" in m.standing_reason
    while standings[-1] != "revoked":
        wrong_once()
    m = Membership.objects.get(project=project, annotator=u)
    assert "revoked" in m.standing_reason.lower() and "hidden check" in m.standing_reason
    decisions = list(GatingDecision.objects.filter(project=project, annotator=u).order_by("id"))
    assert [d.standing for d in decisions] == ["warned", "paused", "warned", "revoked"]
    assert decisions[-1].evidence.get("note", "").startswith("back from the tutorial") or decisions[2].evidence.get("note")
    assert decisions[-1].accuracy_upper < 0.75 or decisions[-1].accuracy < decisions[-1].bar
    # open leases are released on revocation, and no more work is handed out through workforce
    assert not Lease.objects.filter(annotator=u, state=Lease.State.ACTIVE).exists()


@pytest.mark.django_db(transaction=True)
def test_item_is_accepted_when_good_annotators_agree_and_asks_for_more_otherwise():
    project = setup_project(max_answers=3, target=0.9)
    good = [worker(project, f"g{i}") for i in range(3)]
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    for u in good:  # establish them as accurate
        for item in knowns[:6]:
            answer(project, u, item, item.known_label)
    item = Item.objects.filter(project=project, is_known=False).first()
    answer(project, good[0], item, "a")
    item.refresh_from_db()
    assert item.status == Item.Status.OPEN and item.answers_wanted == 2  # one answer is not enough here
    answer(project, good[1], item, "a")
    item.refresh_from_db()
    assert item.status == Item.Status.ACCEPTED and item.label == "a" and item.p_correct >= 0.9
    # disagreement up to the cap ends as uncertain, not accepted
    other = Item.objects.filter(project=project, is_known=False, status="open").first()
    answer(project, good[0], other, "a")
    answer(project, good[1], other, "b")
    answer(project, good[2], other, "a")
    other.refresh_from_db()
    assert other.answers_count == 3
    assert other.status in (Item.Status.ACCEPTED, Item.Status.EXHAUSTED)
    if other.status == Item.Status.ACCEPTED:
        assert other.p_correct >= 0.9


@pytest.mark.django_db(transaction=True)
def test_sweep_finds_answers_that_were_never_scored():
    project = setup_project()
    u = worker(project, "s1")
    item = Item.objects.filter(project=project, is_known=False).first()
    a = answer(project, u, item, "a")
    Answer.objects.filter(pk=a.pk).update(scored_at=None, created_at="2020-01-01T00:00Z")
    assert quality_services.unscored_sweep() == [a.pk]
    from quality.tasks import sweep_unscored

    assert sweep_unscored() == 1
    assert Answer.objects.get(pk=a.pk).scored_at is not None
    assert quality_services.unscored_sweep() == []


def test_annotator_leaning_below_the_bar_gets_only_checks():
    """Once an annotator is more likely below the bar than above it, every task is a check
    until gating decides; a proven annotator still gets checks, at the floor rate."""
    from quality import engine

    leaning_bad = engine.AnnotatorPosterior(alpha=3, beta=4, checks=4, correct=1)
    assert leaning_bad.prob_below(0.75) >= 0.5
    assert engine.known_check_rate(leaning_bad, bar=0.75) == 1.0
    proven = engine.AnnotatorPosterior(alpha=60, beta=2, checks=60, correct=59)
    assert 0 < engine.known_check_rate(proven, bar=0.75) <= 0.2


@pytest.mark.django_db(transaction=True)
def test_answers_of_an_annotator_credibly_below_the_bar_carry_no_weight():
    from quality.services.model import weightless_annotators

    project = setup_project(max_answers=4, target=0.9)
    good = [worker(project, f"g{i}") for i in range(2)]
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    for u in good:
        for item in knowns[:6]:
            answer(project, u, item, item.known_label)
    poor = worker(project, "poor")
    # 1 of 12 checks right: credibly below the bar, though the SPRT has not removed them (active)
    AnnotatorQuality.objects.create(project=project, annotator=poor, alpha=2.0, beta=12.0, checks=12, checks_correct=1)
    assert weightless_annotators(project) == {poor.pk}
    assert weightless_annotators(project, [good[0].pk]) == set()
    item = Item.objects.filter(project=project, is_known=False).first()
    answer(project, poor, item, "a")
    answer(project, good[0], item, "a")
    item.refresh_from_db()
    assert item.status == Item.Status.OPEN  # two agreeing answers, but one of them counts for nothing
    answer(project, good[1], item, "a")
    item.refresh_from_db()
    assert item.status == Item.Status.ACCEPTED and item.label == "a"
    Membership.objects.filter(project=project, annotator=good[1]).update(standing=Membership.Standing.REVOKED)
    assert weightless_annotators(project) == {poor.pk, good[1].pk}
