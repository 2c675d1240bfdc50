"""Quotas hold under simultaneous requests (PostgreSQL, real threads): the quota check and the
lease it lets through run under the project's quota lock, so requests in flight cannot all read
the same counts and overshoot (issue 3 note: "quota checks are not locked")."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from tasks_app.models import Lease
from tests.factories import annotator, annotator_working, customer_with_token, make_project
from workforce import services
from workforce.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def _with_gender(user, gender):
    services.profile_update(annotator=user, values={"gender": gender})
    return user


def test_simultaneous_requests_cannot_overshoot_a_max_share_quota():
    if connection.vendor != "postgresql":
        pytest.skip("the quota lock is PostgreSQL's advisory lock")
    project = make_project(customer_with_token().organization, n_items=30, max_answers=3)
    services.audience_set(project=project, quotas=[{"attribute": "gender", "values": ["woman"], "max_share": 0.25}])
    man = annotator_working(project, _with_gender(annotator(), "man"))
    for i in range(3):
        lease = services.task_next(membership=man)
        services.task_submit(membership=man, lease_id=lease.pk, label="positive", client_key=f"m{i}")
    # 3 answers from men: exactly one more from a woman keeps women at 1/4 = 25 %.
    women = [annotator_working(project, _with_gender(annotator(), "woman")).pk for _ in range(6)]
    barrier = threading.Barrier(len(women))
    got, errors = [], []

    def ask(membership_id: int) -> None:
        try:
            membership = Membership.objects.select_related("project", "annotator").get(pk=membership_id)
            barrier.wait(10)
            lease = services.task_next(membership=membership)
            if lease is not None:
                got.append(lease.pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(m,)) for m in women]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(got) == 1, f"{len(got)} women got a task at once; the quota allows one"
    assert Lease.objects.filter(project=project, state=Lease.State.ACTIVE).count() == 1
