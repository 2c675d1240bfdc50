"""The loop's model instances built from its own rows (``tasks_app.services.rows``, issue 9 ``i9web4``):
the same instances the ORM gives, and ``from_db`` whenever skipping ``__init__`` could change anything."""
from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import signals

from tasks_app.models import Item, Lease, Project
from tasks_app.services import rows
from tests.conftest import requires_postgres
from workforce.models import Membership
from workforce.views.task import _membership_row

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@requires_postgres
def test_the_membership_row_is_what_the_orm_reads(working, annotator):
    orm = (Membership.objects.select_related("project", "project__audience", "annotator", "annotator__annotator")
           .get(pk=working.pk))
    mine = _membership_row(working.project_id, annotator.pk)
    for a, b in ((mine, orm), (mine.project, orm.project), (mine.annotator, orm.annotator)):
        assert type(a) is type(b) and _fields(a) == _fields(b)
        assert a._state.adding is False and a._state.db == connection.alias
    assert mine.project.labels == orm.project.labels and isinstance(mine.project.labels, list)  # JSON parsed
    # the instance behaves as a loaded one: saving updates the row instead of inserting another
    mine.project.name = "renamed"
    mine.project.save(update_fields=["name"])
    assert Project.objects.get(pk=working.project_id).name == "renamed"


def test_loaded_equals_from_db_and_a_missing_column_is_deferred(working):
    item = Item.objects.filter(project_id=working.project_id).first()
    attnames = [f.attname for f in Item._meta.concrete_fields]
    values = [getattr(item, a) for a in attnames]
    fast, slow = rows.loaded(Item, "default", attnames, values), Item.from_db("default", attnames, values)
    assert _fields(fast) == _fields(slow) and fast == slow and fast.pk == item.pk
    assert not fast._state.adding and fast._state.db == "default"
    partial = rows.loaded(Item, "default", ["id", "project_id"], [item.pk, item.project_id])
    assert partial.get_deferred_fields() == set(attnames) - {"id", "project_id"}


def test_an_init_receiver_gets_its_call(working):
    """A model with a ``post_init`` receiver (an ImageField with dimensions connects one) is built by
    ``from_db``, so the receiver runs exactly as for a queryset's row."""
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    lease_fields = [f.attname for f in Lease._meta.concrete_fields]
    signals.post_init.connect(receiver, sender=Lease)
    try:
        obj = rows.loaded(Lease, "default", lease_fields, [None] * len(lease_fields))
    finally:
        signals.post_init.disconnect(receiver, sender=Lease)
    assert seen == [obj] and not obj._state.adding
    rows.loaded(Lease, "default", lease_fields, [None] * len(lease_fields))
    assert len(seen) == 1  # disconnected: the direct route again
