"""Leasing on real PostgreSQL: no item goes to more annotators than it needs, under
concurrency; leases expire and are released; answers are idempotent."""
from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.core.cache import cache as django_cache
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from tasks_app import services
from tasks_app.models import Answer, Item, Lease, Organization, Project
from tests.conftest import requires_postgres, run_at_once

User = get_user_model()


def make_project(n_items: int = 20, max_answers: int = 3, name: str = "p") -> Project:
    org, _ = Organization.objects.get_or_create(name=f"org-{name}")
    examples = [services.ExampleIn(data={"text": f"ex {i}"}, label="a" if i % 2 else "b") for i in range(6)]
    project = services.project_create(
        organization=org, name=name, instructions="Pick a or b.", labels=["a", "b"],
        accuracy_target=0.9, examples=examples, max_answers=max_answers,
    )
    services.items_upload(project=project, rows=[{"external_id": f"i{i}", "data": {"text": f"item {i}"}} for i in range(n_items)])
    services.project_launch(project=project)
    return project


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_leases_never_exceed_what_items_need():
    """32 threads ask for work at once, repeatedly; each regular item wants one answer, so
    no item may ever hold more than one live lease, and every lease is unique."""
    project = make_project(n_items=40)
    annotators = [User.objects.create_user(f"ann{i}", password="x-long-password") for i in range(32)]
    results: list[tuple[int, int]] = []
    holding: dict[int, int] = {}  # item id -> the annotator holding it right now
    clashes: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def work(user):
        rng = random.Random(user.pk)
        for _ in range(3):
            lease = services.lease_next(project=project, annotator=user, known_check_rate=0.0, rng=rng)
            if lease is None:
                break
            with lock:
                if lease.item_id in holding:
                    clashes.append((lease.item_id, holding[lease.item_id], user.pk))
                holding[lease.item_id] = user.pk
                results.append((lease.item_id, user.pk))
            # give it back so the thread asks again; the item is exclusive until then
            with lock:
                holding.pop(lease.item_id, None)
            services.leases_release(project=project, annotator=user)

    errors = run_at_once(annotators, work)
    assert not errors, errors
    assert not clashes, f"items handed to a second annotator while held: {clashes[:5]}"
    assert results, "nobody got work"
    # after all releases, no item is assigned and no lease is active
    assert Lease.objects.filter(state=Lease.State.ACTIVE).count() == 0
    assert set(Item.objects.values_list("assigned", flat=True)) == {0}


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_hold_disjoint_items():
    """Without releases: 16 annotators × 1 lease each at the same moment on 10 items that each
    want one answer → exactly 10 leases on 10 distinct items, 6 annotators get nothing."""
    project = make_project(n_items=10)
    annotators = [User.objects.create_user(f"b{i}", password="x-long-password") for i in range(16)]
    got: list[int | None] = []
    lock = threading.Lock()

    def work(user):
        lease = services.lease_next(project=project, annotator=user, known_check_rate=0.0, rng=random.Random(user.pk))
        with lock:
            got.append(lease.item_id if lease else None)

    assert not run_at_once(annotators, work)
    taken = [g for g in got if g is not None]
    assert len(taken) == 10
    assert len(set(taken)) == 10
    assert Counter(Item.objects.filter(is_known=False).values_list("assigned", flat=True)) == Counter({1: 10})


@pytest.mark.django_db
def test_item_wanting_more_answers_goes_to_distinct_annotators_only_up_to_need():
    project = make_project(n_items=1)
    item = Item.objects.get(project=project, is_known=False)
    Item.objects.filter(pk=item.pk).update(answers_wanted=2)
    users = [User.objects.create_user(f"c{i}", password="x-long-password") for i in range(3)]
    leases = [services.lease_next(project=project, annotator=u, known_check_rate=0.0) for u in users]
    assert [lease is not None for lease in leases] == [True, True, False]
    assert leases[0].item_id == leases[1].item_id == item.pk
    # the same annotator asking again keeps their lease instead of getting a second item
    again = services.lease_next(project=project, annotator=users[0], known_check_rate=0.0)
    assert again.pk == leases[0].pk


@pytest.mark.django_db
def test_expired_lease_returns_item_to_pool_and_cannot_be_submitted():
    project = make_project(n_items=1)
    u1 = User.objects.create_user("d1", password="x-long-password")
    u2 = User.objects.create_user("d2", password="x-long-password")
    lease = services.lease_next(project=project, annotator=u1, known_check_rate=0.0)
    assert services.lease_next(project=project, annotator=u2, known_check_rate=0.0) is None
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.leases_expire() == 1
    with pytest.raises(ValidationError) as exc:
        services.answer_submit(annotator=u1, lease_id=lease.pk, label="a", client_key="k1")
    assert "lease" in exc.value.message_dict
    other = services.lease_next(project=project, annotator=u2, known_check_rate=0.0)
    assert other is not None and other.item_id == lease.item_id
    assert Answer.objects.count() == 0


@pytest.mark.django_db
def test_same_submission_twice_is_one_answer(django_capture_on_commit_callbacks):
    project = make_project(n_items=2)
    user = User.objects.create_user("e1", password="x-long-password")
    lease = services.lease_next(project=project, annotator=user, known_check_rate=0.0)
    key = uuid.uuid4().hex
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        a1, created1 = services.answer_submit(annotator=user, lease_id=lease.pk, label="a", client_key=key)
        a2, created2 = services.answer_submit(annotator=user, lease_id=lease.pk, label="a", client_key=key)
    assert (created1, created2) == (True, False)
    assert a1.pk == a2.pk
    assert Answer.objects.count() == 1
    assert len(callbacks) == 1  # scoring enqueued once
    item = Item.objects.get(pk=lease.item_id)
    assert (item.answers_count, item.assigned) == (1, 1)


@pytest.mark.django_db
def test_unknown_label_is_refused_and_nothing_stored():
    project = make_project(n_items=1)
    user = User.objects.create_user("f1", password="x-long-password")
    lease = services.lease_next(project=project, annotator=user, known_check_rate=0.0)
    with pytest.raises(ValidationError) as exc:
        services.answer_submit(annotator=user, lease_id=lease.pk, label="zzz", client_key="k")
    assert "label" in exc.value.message_dict
    assert Answer.objects.count() == 0
    assert Lease.objects.get(pk=lease.pk).state == Lease.State.ACTIVE


@pytest.mark.django_db
def test_another_annotators_lease_cannot_be_used():
    project = make_project(n_items=1)
    u1 = User.objects.create_user("g1", password="x-long-password")
    u2 = User.objects.create_user("g2", password="x-long-password")
    lease = services.lease_next(project=project, annotator=u1, known_check_rate=0.0)
    with pytest.raises(ValidationError):
        services.answer_submit(annotator=u2, lease_id=lease.pk, label="a", client_key="k")
    assert Answer.objects.count() == 0


@pytest.mark.django_db
def test_known_checks_are_served_at_the_rate_and_not_alone():
    project = make_project(n_items=3)
    user = User.objects.create_user("h1", password="x-long-password")
    lease = services.lease_next(project=project, annotator=user, known_check_rate=1.0)
    assert lease.item.is_known
    services.leases_release(project=project, annotator=user)
    # no regular work left → no lease, even though known items remain
    Item.objects.filter(project=project, is_known=False).update(status=Item.Status.ACCEPTED)
    assert services.lease_next(project=project, annotator=user, known_check_rate=0.0) is None


@pytest.mark.django_db
def test_upload_is_idempotent_and_all_or_nothing():
    project = make_project(n_items=2)
    before = Item.objects.count()
    row = {"text": "x"}
    r = services.items_upload(project=project, rows=[{"external_id": "i0", "data": row}, {"external_id": "new", "data": row}])
    assert (r.created, r.existing) == (1, 1)
    with pytest.raises(ValidationError):
        services.items_upload(project=project, rows=[{"external_id": "ok", "data": row}, {"data": row}])
    assert Item.objects.count() == before + 1


@pytest.mark.django_db
def test_hot_paths_use_a_bounded_number_of_queries(django_assert_max_num_queries, django_capture_on_commit_callbacks):
    """next task and submit stay a handful of queries however big the project is."""
    project = make_project(n_items=50)
    user = User.objects.create_user("q1", password="x-long-password")
    services.lease_next(project=project, annotator=user, known_check_rate=0.0)  # warm: cache key for the expiry sweep
    services.leases_release(project=project, annotator=user)
    with django_assert_max_num_queries(5):  # exact budgets on PostgreSQL: test_hot_path.py
        lease = services.lease_next(project=project, annotator=user, known_check_rate=0.0)
    with django_capture_on_commit_callbacks(execute=False):
        with django_assert_max_num_queries(6):  # 2 of them the savepoint
            services.answer_submit(annotator=user, lease_id=lease.pk, label="a", client_key="qc-1")


@pytest.mark.django_db
def test_next_task_still_works_when_the_cache_is_down(monkeypatch):
    """Redis down: the throttle of the expired-lease sweep fails, handing out work must not."""
    project = make_project(n_items=2)
    user = User.objects.create_user("r1", password="x-long-password")

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(django_cache, "add", broken)
    monkeypatch.setattr("tasks_app.services.leases._next_expire_try", 0.0)  # ask the cache now, not in a second
    assert services.lease_next(project=project, annotator=user, known_check_rate=0.0) is not None
