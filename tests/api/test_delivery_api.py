"""Customer API: the delivery after real work (annotators lease and answer through the
services, scoring runs eagerly on commit), and known answers never reaching annotators."""
from __future__ import annotations

import pytest

from tasks_app import services
from tasks_app.models import Answer, Item
from tests.factories import (
    annotator,
    annotator_working,
    customer_with_token,
    make_project,
    token_client,
    true_label,
)

ITEM_KEYS = {"external_id", "label", "p_correct", "answers_used", "status", "value"}
SUMMARY_KEYS = {
    "items_delivered", "items_accepted", "items_uncertain", "estimated_accuracy", "sample_size", "sample_correct",
    "interval_lower", "interval_upper", "confidence", "target", "certified", "method", "mean_p_correct",
}


def work(project, memberships, *, wrong_on_known: dict | None = None, capture=None, max_steps: int = 1000) -> int:
    """Each annotator in turn takes their next task and answers it (the truth, or the wrong
    label on the known items listed for them) until nobody gets anything more.
    ``capture`` (django_capture_on_commit_callbacks) runs scoring after each submit when the
    test runs inside one transaction. Returns the number of answers."""
    wrong_on_known = wrong_on_known or {}
    n = 0
    for _ in range(max_steps):
        progressed = False
        for m in memberships:
            lease = services.lease_next(project=project, annotator=m.annotator, known_check_rate=m.known_check_rate)
            if lease is None:
                continue
            item = lease.item
            if item.is_known:
                label = item.known_label
                if item.external_id in wrong_on_known.get(m.annotator_id, ()):
                    label = next(lab for lab in project.labels if lab != label)
            else:
                label = true_label(item.external_id, project.labels)
            kwargs = dict(annotator=m.annotator, lease_id=lease.pk, label=label, client_key=f"{m.annotator_id}-{item.pk}")
            if capture is not None:
                with capture(execute=True):
                    services.answer_submit(**kwargs)
            else:
                services.answer_submit(**kwargs)
            m.refresh_from_db()
            n += 1
            progressed = True
        if not progressed:
            return n
    raise AssertionError("work did not finish")


def check_delivery(project, body):
    assert body["project"] == project.pk
    summary = body["summary"]
    assert set(summary) == SUMMARY_KEYS
    assert summary["target"] == project.accuracy_target and summary["confidence"] == project.confidence
    if summary["sample_size"]:
        assert 0 <= summary["interval_lower"] <= summary["estimated_accuracy"] <= summary["interval_upper"] <= 1
        assert summary["estimated_accuracy"] == pytest.approx(summary["sample_correct"] / summary["sample_size"])
    assert summary["certified"] == (summary["interval_lower"] >= summary["target"])
    assert 0 <= summary["sample_correct"] <= summary["sample_size"]
    assert summary["sample_size"] <= project.items.filter(is_known=True).count()
    assert summary["items_delivered"] == len(body["items"]) == summary["items_accepted"] + summary["items_uncertain"]

    known_ids = set(project.items.filter(is_known=True).values_list("external_id", flat=True))
    for it in body["items"]:
        assert set(it) == ITEM_KEYS  # no is_known, no known_label
        assert it["external_id"] not in known_ids and not it["external_id"].startswith("known-")
        assert it["status"] in ("accepted", "exhausted")
        assert it["label"] in project.labels
        assert it["p_correct"] is not None and 0.0 <= it["p_correct"] <= 1.0
        assert it["answers_used"] >= 1
    decided = Item.objects.filter(project=project, is_known=False).exclude(status="open")
    assert sorted(it["external_id"] for it in body["items"]) == sorted(decided.values_list("external_id", flat=True))


@pytest.mark.django_db
def test_delivery_after_work(django_capture_on_commit_callbacks):
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=8, n_examples=10)  # 5 known-answer items
    team = [annotator_working(project, qualifier=(5, 5)) for _ in range(3)]
    n = work(project, team, capture=django_capture_on_commit_callbacks)
    assert n > 0
    assert not Answer.objects.filter(project=project, scored_at__isnull=True).exists()
    assert Answer.objects.filter(project=project, is_check=True).exists()

    r = customer.client.get(f"/api/projects/{project.pk}/delivery/")
    assert r.status_code == 200, r.content
    body = r.json()
    check_delivery(project, body)
    summary = body["summary"]
    assert summary["items_accepted"] >= 1
    assert summary["sample_size"] >= 1
    # Everybody answered the truth: every delivered label is right.
    for it in body["items"]:
        assert it["label"] == true_label(it["external_id"], project.labels)
        if it["status"] == "accepted":
            assert it["p_correct"] > 0.5
    accepted = [it for it in body["items"] if it["status"] == "accepted"]
    assert accepted and all(it["label"] for it in accepted)

    progress = customer.client.get(f"/api/projects/{project.pk}/progress/").json()
    assert progress["items_accepted"] == summary["items_accepted"]
    assert progress["items_uncertain"] == summary["items_uncertain"]
    assert progress["items_total"] == progress["items_accepted"] + progress["items_uncertain"] + progress["items_pending"]
    assert progress["answers"] == n


@pytest.mark.django_db
def test_delivery_with_a_wrong_check(django_capture_on_commit_callbacks):
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=6, n_examples=10)
    team = [annotator_working(project, qualifier=(4, 5)) for _ in range(3)]
    # wrong on every check: their first task is always a check (new annotators are calibrated
    # first), so at least one wrong check exists whatever order the items come in
    all_known = project.items.filter(is_known=True).values_list("external_id", flat=True)
    wrong = {team[0].annotator_id: set(all_known)}
    work(project, team, wrong_on_known=wrong, capture=django_capture_on_commit_callbacks)
    assert Answer.objects.filter(project=project, is_check=True, correct=False).exists()
    body = customer.client.get(f"/api/projects/{project.pk}/delivery/").json()
    check_delivery(project, body)


@pytest.mark.django_db(transaction=True)
def test_delivery_scoring_on_real_commit():
    """No capture: each submit commits and the eager task scores it, as in production."""
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=3, n_examples=5)
    team = [annotator_working(project, qualifier=(5, 5)) for _ in range(3)]
    work(project, team)
    assert not Answer.objects.filter(project=project, scored_at__isnull=True).exists()
    body = customer.client.get(f"/api/projects/{project.pk}/delivery/").json()
    check_delivery(project, body)


@pytest.mark.django_db
def test_delivery_before_any_work_is_empty_and_not_certified():
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=3)
    r = customer.client.get(f"/api/projects/{project.pk}/delivery/")
    assert r.status_code == 200
    body = r.json()
    assert body["items"] == []
    assert body["summary"]["sample_size"] == 0
    assert body["summary"]["certified"] is False
    check_delivery(project, body)


@pytest.mark.django_db
def test_other_customers_delivery_and_progress_are_404():
    owner = customer_with_token()
    project = make_project(owner.organization, n_items=2)
    intruder = customer_with_token()
    assert intruder.client.get(f"/api/projects/{project.pk}/delivery/").status_code == 404
    assert intruder.client.get(f"/api/projects/{project.pk}/progress/").status_code == 404
    assert intruder.client.post(f"/api/projects/{project.pk}/launch/").status_code == 404


# --- known answers never reach annotators through the API ------------------------------------

@pytest.mark.django_db
def test_annotator_token_reads_nothing(django_capture_on_commit_callbacks):
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=3)
    m = annotator_working(project, qualifier=(5, 5))
    work(project, [m], capture=django_capture_on_commit_callbacks)  # they even did work on it
    client = token_client(m.annotator)
    for path in ("", f"{project.pk}/", f"{project.pk}/items/", f"{project.pk}/progress/", f"{project.pk}/delivery/"):
        r = client.get(f"/api/projects/{path}")
        assert r.status_code == 403, (path, r.status_code)
        assert set(r.json()) == {"detail"}  # the refusal carries nothing of the project
    # Nor write: no project, no items, no launch.
    assert client.post("/api/projects/", {}, format="json").status_code == 403
    assert client.post(f"/api/projects/{project.pk}/items/", [], format="json").status_code == 403
    assert client.post(f"/api/projects/{project.pk}/launch/").status_code == 403


@pytest.mark.django_db
def test_annotator_not_on_the_project_is_403_too():
    project = make_project(customer_with_token().organization, n_items=1)
    outsider = token_client(annotator())
    assert outsider.get(f"/api/projects/{project.pk}/items/").status_code == 403
    assert outsider.get(f"/api/projects/{project.pk}/delivery/").status_code == 403
