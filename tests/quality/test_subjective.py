"""Subjective projects (issue 4 "Subjective tasks", issue 6): hidden repeats, self-consistency
gating, peer agreement, through the real services on PostgreSQL."""
from __future__ import annotations

import random
import uuid

import pytest
from django.test import override_settings

from quality import services as quality_services
from quality.engine import subjective as subj
from quality.models import GatingDecision, SubjectiveQuality
from quality.selectors.progress import project_progress
from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Lease
from tests.factories import annotator_working
from workforce.models import Membership

from tests.quality.subjective_sim import clones, project_make, rater_answer, simulate

pytestmark = pytest.mark.django_db

GAP = 10


def _answer(project, membership, rng, *, rate):
    lease = task_services.lease_next(project=project, annotator=membership.annotator, known_check_rate=rate, rng=rng)
    if lease is None:
        return None
    a, _ = task_services.answer_submit(annotator=membership.annotator, lease_id=lease.pk, label="",
                                       value=rater_answer("consistent", project.task_type, lease.item.data, rng),
                                       client_key=uuid.uuid4().hex)
    quality_services.answer_score(answer_id=a.pk)
    return lease.item


@override_settings(CADRE_REPEAT_GAP=GAP)
def test_repeats_only_after_the_gap_only_to_who_answered_never_twice_never_delivered():
    p = project_make("rating", 40)
    rng = random.Random(3)
    me = annotator_working(p, qualifier=(3, 3))
    for i in range(GAP + 1):  # rate 1: every slot is a check; no repeat is due yet
        assert _answer(p, me, rng, rate=1.0).repeat_of_id is None
    repeated = []
    for _ in range(30):
        item = _answer(p, me, rng, rate=1.0)
        if item.repeat_of_id is None:
            continue
        # the original was answered by me, with at least GAP of my answers between it and the repeat
        first = Answer.objects.get(item_id=item.repeat_of_id, annotator=me.annotator)
        again = Answer.objects.get(item=item, annotator=me.annotator)
        assert not first.is_check and Answer.objects.filter(annotator=me.annotator, id__gt=first.pk, id__lt=again.pk).count() >= GAP
        assert item.data == Item.objects.get(pk=item.repeat_of_id).data and item.status == "repeat" and item.is_known
        repeated.append(item.repeat_of_id)
    assert len(repeated) >= 5 and len(repeated) == len(set(repeated))  # never twice
    # someone else never gets those clones, whatever their check rate
    other = annotator_working(p, qualifier=(3, 3))
    for rate in (1.0, 0.0, 1.0, 0.0, 1.0):
        item = _answer(p, other, rng, rate=rate)
        assert item is not None and item.repeat_of_id is None
    # clones are in no count, delivery or customer listing
    n_regular = Item.objects.filter(project=p, is_known=False).count()
    assert n_regular == 40 and clones(p).count() == len(repeated)
    progress = project_progress(project=p)
    assert progress["items_total"] == 40 and progress["items_pending"] + progress["items_accepted"] == 40
    assert not task_services.undelivered(p).filter(repeat_of__isnull=False).exists()
    # a repeat answer is a graded check, compared with my own first answer
    rep = Answer.objects.filter(annotator=me.annotator, item__repeat_of__isnull=False)
    assert rep.count() == len(repeated) and all(a.is_check and a.correct is not None for a in rep)
    row = SubjectiveQuality.objects.get(project=p, annotator=me.annotator)
    assert row.repeats == len(repeated) and 0 <= row.repeats_credited <= row.repeats_consistent <= row.repeats
    # the membership's rate now comes from the consistency evidence, never above the cap
    me.refresh_from_db()
    assert 0 < me.known_check_rate <= 1


def test_a_customer_cannot_upload_a_repeat_external_id():
    p = project_make("rating", 2)
    with pytest.raises(Exception) as exc:
        task_services.items_upload(project=p, rows=[{"external_id": "repeat-1", "data": {"text": "Puppy photo #9"}}])
    assert "reserved" in str(exc.value)


CASES = [("rating", seed, 110) for seed in (1, 2, 3)] + [("most_similar", seed, 150) for seed in (1, 2)]


@pytest.mark.parametrize("task_type,seed,tasks", CASES)
@override_settings(CADRE_REPEAT_GAP=GAP)
def test_random_and_constant_raters_are_revoked_consistent_and_offset_raters_are_not(task_type, seed, tasks):
    """Bounded: a random rater is revoked within 45 repeats on a 1-5 scale, 60 on three candidates
    (chance 1/3 sits closer to a consistent rater: bench/subjective.py), a constant one within 15."""
    kinds = ["consistent", "consistent", "offset", "random", "constant"] if task_type == "rating" else \
        ["consistent", "consistent", "random", "constant"]
    project, runs = simulate(task_type, kinds, tasks=tasks, seed=seed)
    for run in runs:
        st = run.membership.standing
        if run.kind in ("random", "constant"):
            assert st == Membership.Standing.REVOKED, (run.kind, run.repeats, run.answers)
            bound = 15 if run.kind == "constant" else (45 if task_type == "rating" else 60)
            assert run.revoked_at_repeat <= bound, (run.kind, run.revoked_at_repeat)
        else:
            assert st != Membership.Standing.REVOKED and run.paused_at_repeat is None, (run.kind, run.repeats)
    decisions = GatingDecision.objects.filter(project=project, standing="revoked")
    assert decisions.exists()
    d = decisions.first()
    assert "repeated items answered as the first time" in d.reason and d.evidence["measure"].startswith("self-consistency")
    assert d.model_version.startswith("sprt-1") and d.evidence["checks_listed"]
    # the offset rater disagrees with peers more than the consistent ones but is kept
    if task_type == "rating":
        rows = {r.kind: SubjectiveQuality.objects.get(project=project, annotator=r.membership.annotator) for r in runs}
        off = rows["offset"]
        assert off.peer_n and off.repeats_consistent / off.repeats > 0.6
        good = rows["consistent"]
        assert off.peer_agree / off.peer_n < good.peer_agree / good.peer_n


@override_settings(CADRE_REPEAT_GAP=GAP)
def test_revoked_answers_stop_counting_toward_acceptance():
    p = project_make("rating", 4, max_answers=5)
    item = Item.objects.filter(project=p, is_known=False).first()
    ms = [annotator_working(p, qualifier=(3, 3)) for _ in range(4)]
    from workforce import services as workforce_services

    workforce_services.membership_standing_set(membership=ms[0], standing=Membership.Standing.REVOKED, reason="test")
    for m, v in zip(ms, (1, 5, 5, 4)):
        lease = Lease.objects.create(item=item, project=p, annotator=m.annotator,
                                     expires_at=task_services.leases.timezone.now() + task_services.leases.timedelta(minutes=5))
        a, _ = task_services.answer_submit(annotator=m.annotator, lease_id=lease.pk, label="", value=v, client_key=uuid.uuid4().hex)
        quality_services.answer_score(answer_id=a.pk)
        item.refresh_from_db()
        if m is ms[2]:
            assert item.status == "open"  # three answers, one of them revoked
    assert item.status == "accepted" and item.value["counts"] == {"4": 1, "5": 2}


def test_engine_bar_and_leave_one_out():
    assert subj.consistency_bar(0.2).bar == pytest.approx(0.4) and subj.consistency_bar(0.2).informative
    assert subj.consistency_bar(0.2, 0.7).bar == pytest.approx(0.7)
    const = subj.consistency_bar(subj.chance_self({4: 30}))
    assert not const.informative and const.bar == subj.MAX_BAR
    assert subj.leave_one_out([3, 3, 4], ordinal=True) == [0.5, 0.5, 0.0]
    assert subj.leave_one_out([3, 4, 4, 5], ordinal=True) == [0.0, 1.0, 1.0, 0.0]
    assert subj.leave_one_out([3, 4, 4, 5], ordinal=True, tolerance=1) == [1.0, 1.0, 1.0, 1.0]
    assert subj.leave_one_out(["1", "1", "2"], ordinal=False) == [0.5, 0.5, 0.0]
    assert subj.leave_one_out([4], ordinal=True) == []


def test_ops_table_shows_consistency_for_subjective_projects():
    from dashboards.selectors.annotators import annotator_table

    p = project_make("rating", 2)
    m = annotator_working(p, qualifier=(3, 3))
    SubjectiveQuality.objects.create(project=p, annotator=m.annotator, repeats=20, repeats_consistent=15, repeats_credited=15,
                                     chance=0.22, peer_n=10, peer_agree=6.5)
    row = next(r for r in annotator_table(project=p) if r["annotator_id"] == m.annotator_id)
    assert row["checks"] == 20 and row["checks_correct"] == 15 and row["accuracy"] == 0.75
    assert row["lower"] < 0.75 < row["upper"] and row["consistency"]["peer_rate"] == 0.65


@override_settings(CADRE_REPEAT_GAP=GAP)
def test_repeats_are_not_accuracy_evidence_for_ranking_or_the_audience():
    """Graded repeats measure self-consistency, not accuracy: the invitation ranking's history and
    the audience's platform-wide check accuracy leave them out (they counted them as checks)."""
    from workforce.services import audience, ranking

    p = project_make("rating", 40)
    rng = random.Random(5)
    me = annotator_working(p, qualifier=(3, 3))
    for _ in range(GAP + 25):
        _answer(p, me, rng, rate=1.0)
    uid = me.annotator_id
    assert Answer.objects.filter(annotator_id=uid, item__repeat_of__isnull=False, correct__isnull=False).exists()
    assert (uid, p.pk) not in ranking.history([uid]).checks
    assert audience.people([uid])[uid].checks == 0


class _Prefer(random.Random):
    """An rng whose choice takes ``self.want`` when it is among the options (the repeat pick)."""

    want = None

    def choice(self, seq):
        return self.want if self.want in seq else seq[0]


@override_settings(CADRE_REPEAT_GAP=GAP)
def test_a_skipped_released_or_expired_repeat_is_offered_again_after_a_gap_at_most_three_times():
    """Review leftover: a repeat that was not answered used to be gone for good. Now it comes
    back once another gap of the annotator's answers has passed, at most REPEAT_OFFERS leases in
    all; then it is not measured (no repeat, nothing counted)."""
    from tasks_app.services import repeats

    p = project_make("rating", 80)
    rng = _Prefer(11)
    me = annotator_working(p, qualifier=(3, 3))
    for _ in range(GAP + 1):
        _answer(p, me, rng, rate=0.0)
    first = Answer.objects.filter(annotator=me.annotator).order_by("id").first().item_id
    assert repeats.candidates(p, me.annotator) == [first]
    rng.want = first
    closes = [
        lambda lease: task_services.lease_skip(annotator=me.annotator, lease_id=lease.pk, reason="broken"),
        lambda lease: task_services.leases_release(project=p, annotator=me.annotator),
        lambda lease: Lease.objects.filter(pk=lease.pk).update(expires_at=task_services.leases.timezone.now()),
    ]
    for offer, close in enumerate(closes, 1):
        lease = task_services.lease_next(project=p, annotator=me.annotator, known_check_rate=1.0, rng=rng)
        assert lease.item.repeat_of_id == first, offer
        close(lease)
        # not straight back: within a gap of the annotator's answers after the offer
        assert first not in repeats.candidates(p, me.annotator)
        for _ in range(GAP + 1):
            assert _answer(p, me, rng, rate=0.0).repeat_of_id is None
        if offer < repeats.REPEAT_OFFERS:
            assert first in repeats.candidates(p, me.annotator), offer
    assert Lease.objects.filter(annotator=me.annotator, item__repeat_of_id=first).count() == 3
    assert set(Lease.objects.filter(annotator=me.annotator, item__repeat_of_id=first).values_list("state", flat=True)) == {
        "skipped", "released", "expired"}
    # three offers: not measured any more, while other old items are
    eligible = repeats.candidates(p, me.annotator)
    assert first not in eligible and len(eligible) > GAP
    assert not SubjectiveQuality.objects.filter(project=p, annotator=me.annotator, repeats__gt=0).exists()
    # an answered repeat is never offered again
    rng.want = eligible[-1]
    item = _answer(p, me, rng, rate=1.0)
    assert item.repeat_of_id == eligible[-1]
    assert eligible[-1] not in repeats.candidates(p, me.annotator)
    for _ in range(GAP + 1):
        _answer(p, me, rng, rate=0.0)
    assert eligible[-1] not in repeats.candidates(p, me.annotator)


def test_chance_level_reads_the_newest_answers_only():
    """Review leftover: the chance level aggregated the annotator's whole history per repeat. It
    now reads their newest CHANCE_WINDOW regular answers: a rater who varied for a long time and
    then gives the same rating every time is at chance 1 for the window."""
    from quality.services import subjective as subjective_services

    p = project_make("rating", 1)
    w = subjective_services.CHANCE_WINDOW
    items = Item.objects.bulk_create([Item(project=p, external_id=f"h{i}", data={"text": f"Puppy photo #{i}"})
                                      for i in range(w + 300)])
    me = annotator_working(p, qualifier=(3, 3))
    labels = [str(1 + i % 5) for i in range(300)] + ["4"] * w  # varied, then constant (newest)
    Answer.objects.bulk_create([Answer(item=it, project=p, annotator=me.annotator, label=lab, client_key=f"k{i}")
                                for i, (it, lab) in enumerate(zip(items, labels))])
    assert subjective_services._own_chance(p, me.annotator_id, 0.0) == pytest.approx(1.0)


@override_settings(CADRE_REPEAT_GAP=GAP)
def test_repeat_copies_are_archived_when_the_project_completes_and_come_back_if_it_runs_again():
    """Review leftover: clones kept their full copy forever. At completion their data is
    emptied (rows, answers and leases kept: pay and gating evidence refer to them); no export,
    delivery or count sees them either way; served again, a clone gets its data back."""
    from tasks_app.models import DeliveryBatchItem as Delivery, Project
    from tasks_app.services import phases, repeats

    p = project_make("rating", GAP + 4, max_answers=1)
    rng = _Prefer(4)
    me = annotator_working(p, qualifier=(3, 3))
    for _ in range(GAP + 2):
        assert _answer(p, me, rng, rate=0.0).repeat_of_id is None
    answered = _answer(p, me, rng, rate=1.0)  # a repeat, answered
    assert answered.repeat_of_id is not None
    lease = task_services.lease_next(project=p, annotator=me.annotator, known_check_rate=1.0, rng=rng)
    skipped = lease.item
    assert skipped.repeat_of_id is not None and skipped.data
    task_services.lease_skip(annotator=me.annotator, lease_id=lease.pk, reason="broken")
    while _answer(p, me, rng, rate=0.0) is not None:
        pass
    assert not Item.objects.filter(project=p, is_known=False, status="open").exists()
    phases.project_phase_advance(project_id=p.pk)
    p.refresh_from_db()
    assert p.status == Project.Status.COMPLETE
    kept = clones(p)
    assert {c.pk for c in kept} == {answered.pk, skipped.pk}
    assert all(c.data == {} and c.status == "repeat" and c.is_known for c in kept)
    assert Answer.objects.filter(item=answered, annotator=me.annotator).exists()
    assert Lease.objects.filter(item=skipped, state="skipped").exists()
    originals = Item.objects.filter(pk__in=[c.repeat_of_id for c in kept])
    assert all(o.data for o in originals)  # the original keeps the payload
    # deliveries (the final batch) and counts never see them
    assert not Delivery.objects.filter(item__in=kept).exists()
    assert Delivery.objects.filter(batch__project=p).count() == GAP + 4
    assert Item.objects.filter(project=p, is_known=False).count() == GAP + 4
    # served again (the project ran again): the copy comes back from the original
    again = repeats._clone_of(skipped.repeat_of_id)
    assert again.pk == skipped.pk and again.data == Item.objects.get(pk=skipped.repeat_of_id).data
    skipped.refresh_from_db()
    assert skipped.data == again.data
