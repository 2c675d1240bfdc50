"""The answers' and leases' composite foreign key (item_id, project_id) -> item(id, project_id)
(issue 9, i9fk; ``ITEM_PROJECT_FK`` in tasks_app/models.py): the database refuses a row whose
project is not its item's, or whose item does not exist, and the plain keys it replaced are gone.

The keys are DEFERRABLE INITIALLY DEFERRED (as Django's own): checked at commit. The tests run in a
transaction that is rolled back, so they ask for the check at once (``SET CONSTRAINTS ALL
IMMEDIATE``) inside a savepoint; one test commits for real to show the deferred check too."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tasks_app import services
from tasks_app.models import ITEM_PROJECT_FK, Answer, Item, Lease, Project
from tests import factories
from tests.conftest import requires_postgres

pytestmark = [pytest.mark.django_db, requires_postgres]


@pytest.fixture
def two_projects():
    org = factories.OrganizationFactory()
    return factories.make_project(org, n_items=2, n_examples=6), factories.make_project(org, n_items=2, n_examples=6)


def _immediate():
    with connection.cursor() as c:
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _answer(item: Item, project: Project, user, key: str = "k1") -> Answer:
    return Answer.objects.create(item=item, project=project, annotator=user, label="positive", client_key=key)


def _lease(item: Item, project: Project, user) -> Lease:
    return Lease.objects.create(item=item, project=project, annotator=user, expires_at=timezone.now() + timedelta(minutes=5))


# (what writes the row, its model, the composite key's name): answers and leases carry the same key
ROWS = [(_answer, Answer, "answer_item_project_fk"), (_lease, Lease, "lease_item_project_fk")]


@pytest.mark.parametrize("make, model, constraint", ROWS, ids=["answer", "lease"])
def test_a_row_whose_project_is_not_its_items_is_refused_by_the_database(two_projects, make, model, constraint):
    mine, other = two_projects
    user = factories.annotator()
    item = Item.objects.filter(project=mine, is_known=False).first()
    with pytest.raises(IntegrityError, match=constraint):
        with transaction.atomic():
            _immediate()
            make(item, other, user)
    assert not model.objects.filter(annotator=user).exists()
    with transaction.atomic():  # its own project: accepted
        _immediate()
        make(item, mine, user)
    assert model.objects.filter(annotator=user, project=mine).count() == 1


def test_an_item_that_does_not_exist_is_still_refused(two_projects):
    """The composite key keeps the plain item_id key's guarantee (both columns are NOT NULL, so
    it is checked whole)."""
    mine, _ = two_projects
    user = factories.annotator()
    missing = Item(pk=Item.objects.order_by("-pk").first().pk + 1000, project=mine)
    for make, _, constraint in ROWS:
        with pytest.raises(IntegrityError, match=constraint):
            with transaction.atomic():
                _immediate()
                make(missing, mine, user)


def test_the_one_statement_submit_path_is_checked_too(two_projects):
    """The raw-SQL insert the submit uses is refused the same way (the key is the database's,
    whatever writes the row): here a lease row of the wrong project, written by hand, then the
    answer to it through the one-statement submit."""
    mine, other = two_projects
    member = factories.annotator_working(other)
    item = Item.objects.filter(project=mine, is_known=False).first()
    with pytest.raises(IntegrityError, match="item_project_fk"):
        with transaction.atomic():
            _immediate()
            lease = _lease(item, other, member.annotator)
            services.answer_submit(annotator=member.annotator, lease_id=lease.pk, label="positive", client_key="c",
                                   project=other)


@pytest.mark.django_db(transaction=True)
def test_the_key_is_checked_at_commit_when_deferred(two_projects):
    mine, other = two_projects
    user = factories.annotator()
    item = Item.objects.filter(project=mine, is_known=False).first()
    with pytest.raises(IntegrityError, match="answer_item_project_fk"):
        with transaction.atomic():
            _answer(item, other, user)  # accepted for now: the check runs at COMMIT
    assert not Answer.objects.filter(annotator=user).exists()


def test_the_schema_has_the_composite_keys_and_not_the_plain_ones():
    with connection.cursor() as c:
        c.execute("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                     WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)""", [list(ITEM_PROJECT_FK)])
        fks = c.fetchall()
    for table, name in ITEM_PROJECT_FK.items():
        defs = {n: d for t, n, d in fks if t == table}
        assert defs[name] == ("FOREIGN KEY (item_id, project_id) REFERENCES tasks_app_item(id, project_id) "
                              "DEFERRABLE INITIALLY DEFERRED")
        # no plain key on item_id or project_id alone: only annotator_id's besides the composite one
        assert sorted(d.split(" REFERENCES")[0] for d in defs.values()) == [
            "FOREIGN KEY (annotator_id)", "FOREIGN KEY (item_id, project_id)"]


def test_the_annotator_loop_and_deleting_a_project_still_work(two_projects):
    mine, other = two_projects
    member = factories.annotator_working(mine)
    lease = services.lease_next(project=mine, annotator=member.annotator, known_check_rate=0.0, rng=random.Random(3))
    answer, created = services.answer_submit(annotator=member.annotator, lease_id=lease.pk, label="positive",
                                             client_key="loop-1", project=mine)
    assert created and answer.project_id == mine.pk == Item.objects.get(pk=answer.item_id).project_id
    with transaction.atomic():
        _immediate()
        mine.delete()  # Django cascades: answers, leases, items, then the project
    assert not Answer.objects.filter(pk=answer.pk).exists() and not Project.objects.filter(pk=mine.pk).exists()
    assert Project.objects.filter(pk=other.pk).exists()
