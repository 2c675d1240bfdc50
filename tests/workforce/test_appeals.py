"""Standing history (append-only) and appeals: open, one at a time, decided by ops
(reinstate or uphold), outcome shown to the annotator."""
from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.urls import reverse

from tests.conftest import requires_postgres
from workforce import services
from workforce.models import Appeal, Membership, StandingChange

pytestmark = pytest.mark.django_db
TEXT = "I was careful on every item; please look at my checks again."


@pytest.fixture
def revoked(make_project, make_annotator, qualify):
    m = qualify(make_project(), make_annotator())
    return services.membership_standing_set(membership=m, standing="revoked", reason="Accuracy credibly below the bar")


def test_engine_changes_are_kept_in_the_history(revoked):
    services.membership_standing_set(membership=revoked, standing="warned", reason="second thoughts")
    rows = list(StandingChange.objects.filter(membership=revoked).values_list("from_standing", "to_standing", "source", "reason"))
    assert rows == [("active", "revoked", "engine", "Accuracy credibly below the bar"),
                    ("revoked", "warned", "engine", "second thoughts")]


@requires_postgres
def test_history_rows_cannot_be_rewritten(revoked):
    row = StandingChange.objects.get(membership=revoked)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        StandingChange.objects.filter(pk=row.pk).update(reason="nothing happened")
    row.refresh_from_db()
    assert row.reason == "Accuracy credibly below the bar"


def test_appeal_and_reinstate(revoked, staff):
    appeal = services.appeal_open(membership=revoked, text=TEXT)
    assert appeal.status == "open" and appeal.standing_at_appeal == "revoked"
    assert appeal.reason_at_appeal == "Accuracy credibly below the bar"
    decided = services.appeal_decide(appeal=appeal, decision="reinstate", decided_by=staff, note="Two checks were mislabelled.")
    m = Membership.objects.get(pk=revoked.pk)
    assert decided.status == "reinstated" and decided.decided_by == staff
    assert m.standing == "active" and m.standing_reason == "Reinstated on appeal: Two checks were mislabelled."
    last = StandingChange.objects.filter(membership=m).last()
    assert (last.from_standing, last.to_standing, last.source, last.actor) == ("revoked", "active", "ops", staff)
    assert StandingChange.objects.filter(membership=m).count() == 2  # the revocation is still there
    with pytest.raises(ValidationError, match="already decided"):
        services.appeal_decide(appeal=appeal, decision="uphold", decided_by=staff, note="again")
    with pytest.raises(ValidationError, match="nothing to appeal"):
        services.appeal_open(membership=m, text=TEXT)


def test_uphold_changes_no_standing(revoked, staff):
    appeal = services.appeal_open(membership=revoked, text=TEXT)
    services.appeal_decide(appeal=appeal, decision="uphold", decided_by=staff, note="The checks are right.")
    m = Membership.objects.get(pk=revoked.pk)
    assert m.standing == "revoked" and StandingChange.objects.filter(membership=m).count() == 1
    # decided: a new appeal may be sent
    assert services.appeal_open(membership=m, text=TEXT + " More detail.").status == "open"


def test_one_open_appeal_at_a_time_and_bad_input(revoked, make_project, make_annotator, qualify, staff):
    with pytest.raises(ValidationError) as exc:
        services.appeal_open(membership=revoked, text="too short")
    assert "text" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.appeal_open(membership=revoked, text="x" * 4001)
    assert "text" in exc.value.message_dict
    appeal = services.appeal_open(membership=revoked, text=TEXT)
    with pytest.raises(ValidationError, match="already have an open appeal"):
        services.appeal_open(membership=revoked, text=TEXT)
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        Appeal.objects.create(membership=revoked, text=TEXT, standing_at_appeal="revoked")
    active = qualify(make_project(), make_annotator())
    with pytest.raises(ValidationError, match="nothing to appeal"):
        services.appeal_open(membership=active, text=TEXT)
    for decision, note, field in (("pardon", "x", "decision"), ("reinstate", "  ", "note")):
        with pytest.raises(ValidationError) as exc:
            services.appeal_decide(appeal=appeal, decision=decision, decided_by=staff, note=note)
        assert field in exc.value.message_dict
    assert Appeal.objects.get(pk=appeal.pk).status == "open"


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appeals_open_one(make_project, make_annotator, qualify):
    m = qualify(make_project(), make_annotator())
    m = services.membership_standing_set(membership=m, standing="warned", reason="close to the bar")
    barrier = threading.Barrier(6)
    outcomes = []

    def run():
        try:
            barrier.wait()
            services.appeal_open(membership=m, text=TEXT)
            outcomes.append("ok")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    assert Appeal.objects.filter(membership=m).count() == 1


def test_appeal_pages_end_to_end(client, revoked, staff):
    user = revoked.annotator
    client.force_login(user)
    project_url = reverse("workforce:project", args=[revoked.project_id])
    assert "Appeal this decision" in client.get(project_url).content.decode()
    url = reverse("workforce:appeal", args=[revoked.project_id])
    resp = client.post(url, {"text": "short"})
    assert resp.status_code == 200 and "at least 20 characters" in resp.content.decode()
    assert not Appeal.objects.exists()
    resp = client.post(url, {"text": TEXT}, follow=True)
    html = resp.content.decode()
    assert "being reviewed" in html and 'name="text"' not in html
    appeal = Appeal.objects.get()

    client.force_login(staff)
    html = client.get(reverse("workforce:ops_appeals")).content.decode()
    assert user.username in html and "Accuracy credibly below the bar" in html
    detail = reverse("workforce:ops_appeal", args=[appeal.pk])
    html = client.get(detail).content.decode()
    assert TEXT in html and reverse("ops:project", args=[revoked.project_id]) in html
    resp = client.post(detail, {"decision": "reinstate", "note": ""})
    assert resp.status_code == 200 and Appeal.objects.get().status == "open"
    resp = client.post(detail, {"decision": "reinstate", "note": "Your checks were ambiguous."})
    assert resp.status_code == 302

    client.force_login(user)
    html = client.get(url).content.decode()
    assert "Reinstated" in html and "Your checks were ambiguous." in html and "nothing to appeal" in html
    assert 'name="lease_id"' in client.get(reverse("workforce:task", args=[revoked.project_id])).content.decode()


def test_admin_shows_history_ledger_and_appeals_read_only(client, revoked):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser(username="root-3b", password="x-long-pass-42", email="r@example.org")
    services.appeal_open(membership=revoked, text=TEXT)
    services.earning_record(annotator=revoked.annotator, kind="bonus", source_key="adm-1", amount="1")
    client.force_login(admin_user)
    html = client.get(reverse("admin:workforce_membership_change", args=[revoked.pk])).content.decode()
    assert "Accuracy credibly below the bar" in html and "Quality engine" in html
    for name in ("earning", "appeal", "standingchange", "payoutbatch", "projectpay"):
        assert client.get(reverse(f"admin:workforce_{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:workforce_earning_add")).status_code == 403


@pytest.mark.parametrize("standing, appealable", [("warned", True), ("paused", True), ("revoked", True), ("active", False)])
def test_which_standings_may_appeal(make_project, make_annotator, qualify, standing, appealable):
    m = qualify(make_project(), make_annotator())
    if standing != "active":
        m = services.membership_standing_set(membership=m, standing=standing, reason=f"because {standing}")
    if appealable:
        assert services.appeal_open(membership=m, text=TEXT).standing_at_appeal == standing
    else:
        with pytest.raises(ValidationError, match="nothing to appeal"):
            services.appeal_open(membership=m, text=TEXT)
        assert not Appeal.objects.exists()
