"""Skipping a task (issue 6 workbench) on PostgreSQL: the lease closes as skipped with its reason,
the item goes back to others and never to the same annotator again, bad reasons write nothing,
and ops read the counts per project and reason."""
from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError

from tasks_app import selectors, services
from tasks_app.models import Item, Lease
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return factories.make_project(factories.OrganizationFactory(), n_items=3, n_examples=6)


def _lease(project, user):
    return services.lease_next(project=project, annotator=user, known_check_rate=0.0, rng=random.Random(1))


def test_a_skipped_item_goes_back_to_others_but_never_to_the_same_annotator(project):
    me, other = factories.annotator(), factories.annotator()
    first = _lease(project, me)
    skipped = services.lease_skip(annotator=me, lease_id=first.pk, reason="unclear")
    assert (skipped.state, skipped.skip_reason, skipped.skip_note) == ("skipped", "unclear", "")
    assert Item.objects.get(pk=first.item_id).assigned == 0  # back in the pool

    seen = set()
    for _ in range(2):  # the other two items, then nothing: the skipped one is never offered to me
        lease = _lease(project, me)
        assert lease is not None and lease.item_id != first.item_id
        seen.add(lease.item_id)
        services.lease_skip(annotator=me, lease_id=lease.pk, reason="broken")
    assert len(seen) == 2
    assert _lease(project, me) is None
    # someone else still gets the item I skipped
    offered = {_lease(project, other).item_id}
    assert offered <= {first.item_id, *seen}


def test_other_needs_words_and_bad_reasons_write_nothing(project):
    me = factories.annotator()
    lease = _lease(project, me)
    with pytest.raises(ValidationError) as exc:
        services.lease_skip(annotator=me, lease_id=lease.pk, reason="other", note="   ")
    assert "note" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.lease_skip(annotator=me, lease_id=lease.pk, reason="bored")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.lease_skip(annotator=me, lease_id=lease.pk, reason="other", note="x" * 201)
    assert "note" in exc.value.message_dict
    lease.refresh_from_db()
    assert lease.state == Lease.State.ACTIVE and Item.objects.get(pk=lease.item_id).assigned == 1

    done = services.lease_skip(annotator=me, lease_id=lease.pk, reason="other", note="  image   is\nblank ")
    assert done.skip_note == "image is blank"
    with pytest.raises(ValidationError) as exc:  # a second skip of the same lease
        services.lease_skip(annotator=me, lease_id=lease.pk, reason="broken")
    assert "lease" in exc.value.message_dict


def test_someone_elses_lease_cannot_be_skipped(project):
    me, other = factories.annotator(), factories.annotator()
    lease = _lease(project, other)
    with pytest.raises(ValidationError):
        services.lease_skip(annotator=me, lease_id=lease.pk, reason="broken")
    assert Lease.objects.get(pk=lease.pk).state == Lease.State.ACTIVE


def test_the_database_refuses_a_skip_without_a_reason(project):
    from django.db import IntegrityError, transaction

    lease = _lease(project, factories.annotator())
    with pytest.raises(IntegrityError), transaction.atomic():
        Lease.objects.filter(pk=lease.pk).update(state=Lease.State.SKIPPED)


def test_skip_counts_per_project_and_reason(project):
    users = [factories.annotator() for _ in range(3)]
    for user, reason in zip(users, ["unclear", "unclear", "language"]):
        services.lease_skip(annotator=user, lease_id=_lease(project, user).pk, reason=reason)
    rows = selectors.skip_counts(project_ids=[project.pk])
    assert [(r["reason"], r["count"]) for r in rows] == [("unclear", 2), ("language", 1)]
    assert rows[0]["reason_label"] == "The instructions do not cover this item"
