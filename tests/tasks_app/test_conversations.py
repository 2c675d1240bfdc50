"""Two-person conversations on PostgreSQL (issue 6): the spec's checks, concurrent pairing (two
annotators asking at once pair with each other, nobody is paired twice), alternating turns, the
turn limit, ending, the partner-left timeout (nothing half-written is kept), the labelling pass
and the customer API."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tasks_app import services
from tasks_app.models import Conversation, Item, Turn
from tasks_app.services import conversations as conv
from tests import factories
from tests.conftest import requires_postgres, run_at_once

ROLES = [{"name": "Flower seller", "instructions": "Sell flowers."}, {"name": "Buyer", "instructions": "Buy some."}]


def make_pair_projects(organization=None, *, scenarios: int = 3, **config):
    organization = organization or factories.OrganizationFactory()
    labelling = factories.make_project(organization, n_items=0, n_examples=6, labels=["natural", "stilted"], name="Rate dialogues",
                                      launch=False)  # the first dialogue launches it
    project = factories.make_project(organization, n_items=scenarios, n_examples=6, name="Flower shop talks")
    conv.conversation_project_configure(
        project=project, config={"roles": ROLES, "min_turns": 2, "max_turns": 4, "labelling_project": labelling.pk, **config}
    )
    return project, labelling


@pytest.mark.django_db
def test_the_spec_is_checked_field_by_field():
    organization = factories.OrganizationFactory()
    project, labelling = make_pair_projects(organization)
    other_org = factories.make_project(factories.OrganizationFactory(), n_items=0, n_examples=6, launch=False)
    bad = [
        ({"roles": ROLES[:1]}, "type_config.roles"),
        ({"roles": [ROLES[0], {"name": "flower SELLER"}]}, "type_config.roles"),
        ({"roles": ROLES, "max_turns": 1}, "type_config.max_turns"),
        ({"roles": ROLES, "min_turns": 8, "max_turns": 6}, "type_config.min_turns"),
        ({"roles": ROLES, "turn_seconds": "soon"}, "type_config.turn_seconds"),
        ({"roles": ROLES, "labelling_project": other_org.pk}, "type_config.labelling_project"),
        ({"roles": ROLES, "labelling_project": project.pk}, "type_config.labelling_project"),  # a conversation project
        ({"roles": ROLES, "colour": "red"}, "type_config"),
    ]
    for config, field in bad:
        with pytest.raises(ValidationError) as exc:
            conv.conversation_config_clean(config=config, organization_id=organization.pk)
        assert field in exc.value.message_dict, (config, exc.value.message_dict)
    clean = conv.conversation_config_clean(config={"roles": ROLES}, organization_id=organization.pk)
    assert clean["max_turns"] == 12 and clean["labelling_project"] is None


@pytest.mark.django_db
def test_a_dialogue_alternates_turns_and_becomes_an_item_to_label():
    project, labelling = make_pair_projects()
    seller, buyer, stranger = factories.annotator(), factories.annotator(), factories.annotator()
    c = conv.conversation_join(project=project, annotator=seller)
    assert c.state == "waiting" and conv.conversation_join(project=project, annotator=seller).pk == c.pk
    with pytest.raises(ValidationError, match="not joined"):
        conv.conversation_turn_add(conversation_id=c.pk, annotator=seller, text="Hello!")
    assert conv.conversation_join(project=project, annotator=buyer).pk == c.pk
    with pytest.raises(ValidationError, match="partner's turn"):
        conv.conversation_turn_add(conversation_id=c.pk, annotator=buyer, text="Hi")  # role 0 speaks first
    with pytest.raises(ValidationError, match="not your conversation"):
        conv.conversation_turn_add(conversation_id=c.pk, annotator=stranger, text="Hi")
    with pytest.raises(ValidationError, match="Write something"):
        conv.conversation_turn_add(conversation_id=c.pk, annotator=seller, text="   ")
    conv.conversation_turn_add(conversation_id=c.pk, annotator=seller, text="Roses or tulips today?")
    with pytest.raises(ValidationError, match="at least 2 turns"):
        conv.conversation_end(conversation_id=c.pk, annotator=buyer)
    conv.conversation_turn_add(conversation_id=c.pk, annotator=buyer, text="Tulips, a dozen please.")
    conv.conversation_turn_add(conversation_id=c.pk, annotator=seller, text="That is 12 euros.")
    conv.conversation_turn_add(conversation_id=c.pk, annotator=buyer, text="Here you go.")  # the 4th: the limit
    c.refresh_from_db()
    assert c.state == "finished" and c.end_reason == "The turn limit was reached."
    assert list(c.turns.values_list("role", flat=True)) == [0, 1, 0, 1]
    scenario = Item.objects.get(pk=c.item_id)
    assert scenario.status == "accepted" and scenario.value == {"conversation_id": c.pk, "turns": 4}
    item = c.labelling_item
    assert item.project_id == labelling.pk and item.external_id == f"conversation-{c.pk}" and item.status == "open"
    assert item.data["text"].splitlines()[2:] == [
        "Flower seller: Roses or tulips today?", "Buyer: Tulips, a dozen please.", "Flower seller: That is 12 euros.",
        "Buyer: Here you go.",
    ]
    # the first dialogue launched the labelling project; its pass is ordinary work: another annotator gets the item
    labelling.refresh_from_db()
    assert (labelling.status, labelling.phase) == ("live", "production")
    labeller = factories.annotator()
    lease = services.lease_next(project=labelling, annotator=labeller, known_check_rate=0.0)
    assert lease.item_id == item.pk
    # the next request pairs anew on another scenario
    assert conv.conversation_join(project=project, annotator=seller).item_id != c.item_id


@pytest.mark.django_db
def test_a_partner_who_leaves_or_goes_quiet_releases_the_pair_and_nothing_is_kept():
    project, labelling = make_pair_projects(scenarios=1, partner_seconds=10)
    a, b = factories.annotator(), factories.annotator()
    c = conv.conversation_join(project=project, annotator=a)
    conv.conversation_join(project=project, annotator=b)
    conv.conversation_turn_add(conversation_id=c.pk, annotator=a, text="Hello")
    # b's page stops polling: a's next poll finds b gone
    Conversation.objects.filter(pk=c.pk).update(second_seen_at=timezone.now() - timedelta(seconds=11))
    polled = conv.conversation_poll(conversation_id=c.pk, annotator=a)
    assert polled.state == "abandoned" and "left" in polled.end_reason
    assert not Turn.objects.filter(conversation_id=c.pk).exists()
    assert not Item.objects.filter(project=labelling, is_known=False).exists()
    with pytest.raises(ValidationError, match="abandoned"):
        conv.conversation_turn_add(conversation_id=c.pk, annotator=b, text="Still there?")
    # the scenario is free again; pressing Leave abandons as well
    c2 = conv.conversation_join(project=project, annotator=b)
    assert c2.item_id == c.item_id and c2.pk != c.pk
    conv.conversation_join(project=project, annotator=a)
    left = conv.conversation_leave(conversation_id=c2.pk, annotator=a)
    assert left.state == "abandoned"
    # the periodic sweep abandons a waiting conversation nobody joined in time
    c3 = conv.conversation_join(project=project, annotator=a)
    Conversation.objects.filter(pk=c3.pk).update(created_at=timezone.now() - timedelta(seconds=601))
    assert conv.conversations_expire() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_annotators_asking_at_once_pair_with_each_other_and_nobody_twice():
    """8 annotators ask at the same moment, 8 scenarios free: exactly 4 pairs, every annotator in
    exactly one conversation, no scenario in two. Repeated to give the race chances."""
    for round_ in range(3):
        project, _ = make_pair_projects(scenarios=8)
        users = [factories.annotator() for _ in range(8)]
        errors = run_at_once(users, lambda user: conv.conversation_join(project=project, annotator=user))
        assert not errors, errors
        convs = list(Conversation.objects.filter(project=project))
        assert sorted(c.state for c in convs) == ["active"] * 4, (round_, [(c.state, c.first_id, c.second_id) for c in convs])
        people = [c.first_id for c in convs] + [c.second_id for c in convs]
        assert sorted(people) == sorted(u.pk for u in users)
        assert len({c.item_id for c in convs}) == 4


@pytest.mark.django_db
def test_the_customer_reads_finished_dialogues_only():
    customer = factories.customer_with_token()
    project, labelling = make_pair_projects(customer.organization)
    a, b = factories.annotator(), factories.annotator()
    c = conv.conversation_join(project=project, annotator=a)
    conv.conversation_join(project=project, annotator=b)
    conv.conversation_turn_add(conversation_id=c.pk, annotator=a, text="Hello")
    conv.conversation_turn_add(conversation_id=c.pk, annotator=b, text="Hi, tulips?")
    conv.conversation_end(conversation_id=c.pk, annotator=b)
    conv.conversation_join(project=project, annotator=a)  # a new waiting one: not listed
    url = reverse("project-conversations", args=[project.pk])
    resp = customer.client.get(url)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    results = body["results"] if isinstance(body, dict) else body
    assert len(results) == 1
    got = results[0]
    assert [t["role"] for t in got["turns"]] == ["Flower seller", "Buyer"]
    assert got["labelling_item"]["external_id"] == f"conversation-{c.pk}" and got["labelling_item"]["project"] == labelling.pk
    assert set(got["turns"][0]) == {"position", "role", "text", "created_at"}
    other = factories.customer_with_token()
    assert other.client.get(url).status_code == 404


@pytest.mark.django_db
def test_finished_scenarios_go_through_the_phase_and_delivery_machinery():
    """A finished scenario is an accepted item: the periodic phase step and a requested delivery
    batch handle it like any other decided item (no crash on a conversation project)."""
    project, _ = make_pair_projects(scenarios=1)
    c = _dialogue(project, factories.annotator(), factories.annotator())
    services.projects_advance()
    batch = services.batch_request(project=project) if not project.delivery_batches.exists() else project.delivery_batches.first()
    assert batch.items.filter(item_id=c.item_id, label="conversation").exists()


def _dialogue(project, a, b):
    c = conv.conversation_join(project=project, annotator=a)
    conv.conversation_join(project=project, annotator=b)
    conv.conversation_turn_add(conversation_id=c.pk, annotator=a, text="Hello")
    conv.conversation_turn_add(conversation_id=c.pk, annotator=b, text="Hi")
    conv.conversation_end(conversation_id=c.pk, annotator=a)
    c.refresh_from_db()
    return c


@pytest.mark.django_db
def test_the_labelling_project_opens_with_the_first_dialogue_and_waits_for_the_rest():
    """Decision (issue 6): no customer step between the dialogues and their labelling pass. The
    first transcript launches the draft labelling project; labelling everything that arrived does
    not complete it while the conversation project runs; it completes after the conversation project."""
    project, labelling = make_pair_projects(scenarios=2)
    assert labelling.status == "draft"
    a, b = factories.annotator(), factories.annotator()
    first = _dialogue(project, a, b)
    labelling.refresh_from_db()
    assert labelling.status == "live" and first.labelling_item.status == "open"
    item = first.labelling_item
    services.item_decision_apply(item=item, status="accepted", label="natural", p_correct=0.95, answers_wanted=1)
    assert services.project_phase_advance(project_id=labelling.pk) == "waiting for dialogues"
    labelling.refresh_from_db()
    assert labelling.status == "live"
    second = _dialogue(project, a, b)  # arrives in a project still open to annotators
    assert second.labelling_item.status == "open"
    assert services.project_phase_advance(project_id=project.pk) == "complete"  # every scenario talked through
    services.item_decision_apply(item=second.labelling_item, status="accepted", label="stilted", p_correct=0.9, answers_wanted=1)
    assert services.project_phase_advance(project_id=labelling.pk) == "complete"


@pytest.mark.django_db
def test_a_labelling_project_in_pilot_or_complete_is_refused_at_creation():
    organization = factories.OrganizationFactory()
    done = factories.make_project(organization, n_items=1, n_examples=6, labels=["natural", "stilted"])
    done.phase, done.status = "complete", "complete"
    done.save(update_fields=["phase", "status"])
    piloting = factories.make_project(organization, n_items=2, n_examples=6, labels=["natural", "stilted"], launch=False)
    services.project_pilot_start(project=piloting, size=1)
    for target in (done, piloting):
        with pytest.raises(ValidationError) as exc:
            conv.conversation_config_clean(config={"roles": ROLES, "labelling_project": target.pk}, organization_id=organization.pk)
        assert "launched when the first dialogue arrives" in exc.value.message_dict["type_config.labelling_project"][0]
