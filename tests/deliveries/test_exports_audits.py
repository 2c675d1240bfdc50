"""Exports (JSON, JSON Lines, CSV; streamed; stable order) and audits (plan, blind review in the
web app by ops or the customer's reviewers, completion: certificate, reopened items, annotator
evidence)."""
from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from quality.models import AnnotatorAuditRecord, AnnotatorQuality, Audit, AuditSample
from tasks_app import services
from tasks_app.models import DeliveryBatch, Item
from tests.deliveries.helpers import team_of, work
from tests.factories import PASSWORD, customer_with_token, make_project, true_label

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(django_capture_on_commit_callbacks):
    """A completed project (20 items, all answered truthfully) with its final batch."""
    customer = customer_with_token()
    project = make_project(customer.organization, n_items=20, batch_size=0)
    work(project, team_of(project), capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.project_phase_advance(project_id=project.pk) == "complete"
    batch = DeliveryBatch.objects.get(project=project)
    assert batch.certificate_updated_at is not None
    return customer, project, batch


def body_of(resp) -> bytes:
    assert resp.streaming, "exports must be streamed"
    return b"".join(resp.streaming_content)


def test_exports_in_three_formats_stable_order(delivered):
    customer, project, batch = delivered
    base = f"/api/projects/{project.pk}/deliveries/{batch.number}/export/"
    want = [f"item-{i}" for i in range(20)]  # upload order

    r = customer.client.get(base + "?fmt=jsonl")
    assert r.status_code == 200 and r["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in body_of(r).decode().splitlines()]
    assert [x["external_id"] for x in rows] == want
    for x in rows:
        assert set(x) == {"external_id", "label", "p_correct", "p_model", "answers_used", "status"}
        assert x["label"] == true_label(x["external_id"]) and 0 <= x["p_correct"] <= 1

    r = customer.client.get(base + "?fmt=json")
    doc = json.loads(body_of(r))
    assert doc["batch"] == batch.number and doc["certificate"]["target"] == project.accuracy_target
    assert doc["items"] == rows

    r = customer.client.get(base + "?fmt=csv")
    assert r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(body_of(r).decode())))
    assert [x["external_id"] for x in table] == want
    assert [x["label"] for x in table] == [x["label"] for x in rows]

    again = customer.client.get(base + "?fmt=jsonl")
    assert [json.loads(line) for line in body_of(again).decode().splitlines()] == rows  # same order every time

    assert customer.client.get(base + "?fmt=xml").status_code == 400
    assert customer.client.get(f"/api/projects/{project.pk}/deliveries/99/export/").status_code == 404
    assert customer_with_token().client.get(base).status_code == 404


def test_export_chunks_are_bounded(delivered):
    """The JSON Lines export of a batch comes out of a generator in pieces, reading rows in
    chunks; tiny chunks prove it does not need the whole batch at once."""
    _, project, batch = delivered
    parts = list(services.batch_export(batch=batch, fmt="jsonl", chunk_size=3))
    assert b"".join(parts).count(b"\n") == 20


def test_delivery_items_are_paginated_and_filtered(delivered):
    customer, project, batch = delivered
    url = f"/api/projects/{project.pk}/deliveries/{batch.number}/items/"
    page = customer.client.get(url + "?limit=5&offset=5").json()
    assert page["count"] == 20 and [x["external_id"] for x in page["results"]] == [f"item-{i}" for i in range(5, 10)]
    pos = customer.client.get(url + "?label=positive").json()
    assert pos["count"] == 10 and all(x["label"] == "positive" for x in pos["results"])
    assert customer.client.get(url + "?status=bogus").status_code == 400
    assert customer.client.get(f"/api/projects/{project.pk}/deliveries/?kind=nope").status_code == 400


def test_audit_plan_review_complete(delivered, django_capture_on_commit_callbacks):
    customer, project, batch = delivered
    url = f"/api/projects/{project.pk}/deliveries/{batch.number}/audit/"
    assert customer.client.get(url).status_code == 404  # no audit yet
    r = customer.client.post(url, {"margin": 0.1, "min_per_class": 3}, format="json")
    assert r.status_code == 201, r.content
    audit = r.json()
    plan = audit["plan"]
    assert plan["strata"] == {"positive": 10, "negative": 10}
    assert sum(plan["allocation"].values()) == plan["sample_size"]["n"] <= 20
    assert audit["sampled"] == plan["sample_size"]["n"] + sum(plan["elusion"].values())
    assert customer.client.post(url, {"margin": 0.1}, format="json").status_code == 400  # one audit per batch
    assert customer.client.post(url.replace(f"/{batch.number}/", "/77/"), {"margin": 0.1}, format="json").status_code == 404

    # The customer's reviewer signs in to the web app and reviews blind.
    reviewer = customer.user
    reviewer.set_password(PASSWORD)
    reviewer.save()
    web = Client()
    assert web.login(username=reviewer.username, password=PASSWORD)
    page = web.get(audit["review_url"].replace("http://testserver", ""))
    assert page.status_code == 200
    page.content.decode()
    samples = list(AuditSample.objects.filter(audit_id=audit["id"]).select_related("item"))
    assert samples
    wrong_one = samples[0]
    for s in samples:  # reviewers say the truth, except on one item where the delivery is called wrong
        label = true_label(s.item.external_id)
        if s.pk == wrong_one.pk:
            label = next(lab for lab in project.labels if lab != label)
        r = web.post(page.request["PATH_INFO"], {"sample": s.pk, "label": label})
        assert r.status_code == 302
    # bad label: message, nothing stored
    web.post(page.request["PATH_INFO"], {"sample": samples[1].pk, "label": "nonsense"})
    assert AuditSample.objects.get(pk=samples[1].pk).reviewer_label == true_label(samples[1].item.external_id)

    before = {aq.annotator_id: (aq.alpha, aq.beta) for aq in AnnotatorQuality.objects.filter(project=project)}
    with django_capture_on_commit_callbacks(execute=True):
        r = web.post(f"/review/audits/{audit['id']}/complete/")
    assert r.status_code == 302
    a = Audit.objects.get(pk=audit["id"])
    assert a.status == "complete"
    # the item called wrong is reopened for one more answer and leaves the delivered set
    item = Item.objects.get(pk=wrong_one.item_id)
    assert item.status == "open" and item.delivered_at is None and item.answers_wanted == item.answers_count + 1
    project.refresh_from_db()
    assert (project.phase, project.status) == ("production", "live")
    # certificate now carries the audit
    batch.refresh_from_db()
    cert = batch.certificate
    assert cert["audit"]["reviewed"] == len(samples) and cert["audit"]["correct"] == len(samples) - 1
    assert cert["source"] in ("model+audit", "audit")
    assert cert["per_class_source"].startswith("audit")
    # annotator evidence: the answers on the wrong item disagreed with the reviewer
    records = AnnotatorAuditRecord.objects.filter(project=project)
    assert records.exists()
    assert sum(r.reviewed - r.agreed for r in records) >= 1
    after = {aq.annotator_id: (aq.alpha, aq.beta) for aq in AnnotatorQuality.objects.filter(project=project)}
    assert any(after[k][1] > before[k][1] for k in before)
    # after completion the page shows the result, reviews are frozen
    assert "certified" in web.get(page.request["PATH_INFO"]).content.decode()
    assert web.post(page.request["PATH_INFO"], {"sample": samples[1].pk, "label": "negative"}).status_code == 302
    assert AuditSample.objects.get(pk=samples[1].pk).reviewer_label == true_label(samples[1].item.external_id)
    api = customer.client.get(url).json()
    assert api["status"] == "complete" and api["wrong"] == 1


def test_audit_review_page_is_blind_and_guarded(delivered):
    customer, project, batch = delivered
    from quality.services.audits import audit_create

    audit = audit_create(batch=batch, margin=0.2, min_per_class=2)
    staff = get_user_model().objects.create_user("auditor", password=PASSWORD, is_staff=True)
    web = Client()
    web.force_login(staff)
    html = web.get(f"/review/audits/{audit.pk}/").content.decode()
    assert "Delivered" not in html and "delivered:" not in html  # blind while open
    assert web.post(f"/review/audits/{audit.pk}/complete/").status_code == 302
    assert Audit.objects.get(pk=audit.pk).status == "open"  # not all reviewed: refused
    other = customer_with_token()
    web2 = Client()
    web2.force_login(other.user)
    assert web2.get(f"/review/audits/{audit.pk}/").status_code == 403
    assert Client().get(f"/review/audits/{audit.pk}/").status_code == 302


def test_batch_model_claim_matches_project_claim_when_the_mix_is_the_same(delivered):
    """One batch holding every decided item: its model claim is the project's (``project_claim``).
    Fails if the certificate's shadow deliveries drift from the quality engine's."""
    from quality.selectors import project_claim
    from quality.selectors.certificates import batch_model_claim

    _, project, batch = delivered
    mine = batch_model_claim(batch=batch)
    theirs = project_claim(project=project).claim
    assert (mine.n, mine.correct) == (theirs.n, theirs.correct)
    assert mine.lower == pytest.approx(theirs.lower) and mine.upper == pytest.approx(theirs.upper)
    assert mine.n > 0
    model = batch.certificate["model"]
    assert (model["sample_size"], model["sample_correct"]) == (theirs.n, theirs.correct)
