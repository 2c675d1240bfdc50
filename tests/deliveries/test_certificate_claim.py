"""One honest claim everywhere, on PostgreSQL: the delivery API's claim, a batch certificate's
model part and the crowd replay's call on the same shadow outcomes are one computation; a
batch is weighed by its own items; an audit that contradicts the model sets the bound."""
from __future__ import annotations

import pytest

import quality.replay
from quality.engine.estimate import SHADOW_DESIGN_EFFECT
from quality.models import Audit, AuditSample
from quality.services import model as model_services
from quality.services.audits import audit_create, batch_certify
from tasks_app.models import DeliveryBatch, DeliveryBatchItem, Item
from tasks_app.services import batch_cut
from tests.factories import customer_with_token
from tests.quality.test_scoring import setup_project

pytestmark = pytest.mark.django_db

FIGURES = ("estimated_accuracy", "sample_size", "sample_correct", "interval_lower", "interval_upper", "certified")


def seeded(*, hard_share: float = 5 / 6):
    """A project whose stored re-estimate holds 80 known items' shadows (50 easy: P 0.99, all
    right; 30 hard: P 0.6, 18 right; 5 exhausted: P 0.55, 2 right) and whose 66 regular items
    are decided: 60 accepted (easy P 0.99 or hard P 0.6, ``hard_share`` hard) and 6 exhausted."""
    project = setup_project(n_items=66, n_known=85, max_answers=3, target=0.9)
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    shadow = {}
    for i, k in enumerate(knowns):
        if i < 50:
            shadow[str(k.pk)] = ["accepted", True, 0.99]
        elif i < 80:
            shadow[str(k.pk)] = ["accepted", i < 68, 0.6]
        else:
            shadow[str(k.pk)] = ["exhausted", i < 82, 0.55]
    state = model_services.model_state(project)
    state.shadow, state.refreshes = shadow, 1
    state.save()
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    n_hard = round(60 * hard_share)
    for i, item in enumerate(regular):
        if i < 60:
            Item.objects.filter(pk=item.pk).update(status=Item.Status.ACCEPTED, label="a",
                                                   p_correct=0.6 if i < n_hard else 0.99)
        else:
            Item.objects.filter(pk=item.pk).update(status=Item.Status.EXHAUSTED, label="b", p_correct=0.55)
    sample = [(st, p, ok) for st, ok, p in shadow.values()]
    return project, sample


def replay_call(project, sample, items):
    """The crowd replay's claim call (the function ``quality.replay`` calls) on these outcomes."""
    return quality.replay.items_claim(sample, items, confidence=project.confidence, target=project.accuracy_target,
                                      design_effect=SHADOW_DESIGN_EFFECT)


def figures(claim) -> dict:
    return {"estimated_accuracy": claim.accuracy, "sample_size": claim.n, "sample_correct": claim.correct,
            "interval_lower": claim.lower, "interval_upper": claim.upper, "certified": claim.certified}


def test_delivery_api_certificate_and_replay_make_the_same_claim():
    project, sample = seeded()
    batch = batch_cut(project=project, kind=DeliveryBatch.Kind.REQUESTED)
    assert batch.items_count == 66
    certificate = batch_certify(batch_id=batch.pk)
    batch.refresh_from_db()
    customer = customer_with_token(organization=project.organization)
    summary = customer.client.get(f"/api/projects/{project.pk}/delivery/").json()["summary"]

    items = list(Item.objects.filter(project=project, is_known=False).values_list("status", "p_correct"))
    replayed = figures(replay_call(project, sample, items))
    api = {k: summary[k] for k in FIGURES}
    stored = {k: batch.certificate["model"][k] for k in FIGURES}
    returned = {k: certificate["model"][k] for k in FIGURES}
    assert api == replayed == stored == returned
    # and it is the post-stratified claim: the hard cell weighs the batch's 50 of 60 accepted items
    assert replayed["interval_lower"] < 68 / 80
    assert "post-stratified" in batch.certificate["model"]["method"]
    # no audit: the headline is the model claim, with its n and interval
    assert batch.certificate["source"] == batch.certificate["bound_from"] == "model"
    assert batch.certificate["interval_lower"] == round(api["interval_lower"], 6)
    assert batch.certificate["sample_size"] == api["sample_size"] == 85
    # each delivered item carries the P the delivery API shows
    shown = {r["external_id"]: r["p_correct"] for r in customer.client.get(f"/api/projects/{project.pk}/delivery/").json()["items"]}
    assert {e: p for e, p in DeliveryBatchItem.objects.filter(batch=batch).values_list("external_id", "p_correct")} == shown
    # the ops dashboard's accuracy over time reads the stored certificate, then the engine's claim now
    from dashboards.selectors.accuracy import accuracy_history

    point, now = accuracy_history(project=project)
    assert (point.estimate, point.lower, point.upper, point.n, point.certified) == (
        batch.certificate["estimated_accuracy"], batch.certificate["interval_lower"],
        batch.certificate["interval_upper"], 85, batch.certificate["certified"])
    assert (now.lower, now.n) == (api["interval_lower"], 85)


def test_each_batch_is_weighed_by_its_own_items():
    """An easy batch and a hard batch of the same project, both 'accepted': by decision status
    alone (the old certificate) they would carry the same claim; each now carries the claim for
    its own items, and the delivery's claim for all of them lies between."""
    project, sample = seeded(hard_share=0.5)  # items 0-29 hard, 30-59 easy, 60-65 exhausted
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    Item.objects.filter(pk__in=[i.pk for i in regular[30:]]).update(status=Item.Status.OPEN)  # not decided yet
    hard = batch_cut(project=project, kind=DeliveryBatch.Kind.REQUESTED)
    Item.objects.filter(pk__in=[i.pk for i in regular[30:60]]).update(status=Item.Status.ACCEPTED)
    easy = batch_cut(project=project, kind=DeliveryBatch.Kind.REQUESTED)
    assert (hard.items_count, easy.items_count) == (30, 30)
    claims = {}
    for batch, rows in ((hard, regular[:30]), (easy, regular[30:60])):
        model = batch_certify(batch_id=batch.pk)["model"]
        items = [("accepted", 0.6 if batch is hard else 0.99)] * len(rows)
        assert {k: model[k] for k in FIGURES} == figures(replay_call(project, sample, items))
        claims[batch.number] = model
    assert claims[hard.number]["estimated_accuracy"] == pytest.approx(0.6)
    assert claims[easy.number]["estimated_accuracy"] == pytest.approx(1.0)
    assert claims[hard.number]["interval_lower"] < claims[easy.number]["interval_lower"]
    customer = customer_with_token(organization=project.organization)
    whole = customer.client.get(f"/api/projects/{project.pk}/delivery/").json()["summary"]
    assert claims[hard.number]["estimated_accuracy"] < whole["estimated_accuracy"] < claims[easy.number]["estimated_accuracy"]


def test_an_audit_that_contradicts_the_model_sets_the_certificate():
    """Known items all easy and right, the batch's items in the same cell: the model claims a
    high bound; the audit finds a third of the batch wrong. The certificate reports the audit's
    (smaller) lower bound and is not certified; both sources keep their n and interval."""
    project, _ = seeded(hard_share=0.0)
    batch = batch_cut(project=project, kind=DeliveryBatch.Kind.REQUESTED)
    before = batch_certify(batch_id=batch.pk)
    audit = audit_create(batch=batch, margin=0.15, min_per_class=3, seed=1)
    samples = list(AuditSample.objects.filter(audit=audit).order_by("id"))
    for i, s in enumerate(samples):
        wrong = i % 3 == 0
        truth = s.delivered_label if not wrong else ("b" if s.delivered_label == "a" else "a")
        AuditSample.objects.filter(pk=s.pk).update(reviewer_label=truth or "a")
    after = batch_certify(batch_id=batch.pk)
    assert Audit.objects.get(pk=audit.pk).samples.count() == len(samples)
    model, au = after["model"], after["audit"]
    assert model == before["model"]  # the audit does not move the model part
    assert au["reviewed"] == len(samples) and au["interval_lower"] < model["interval_lower"]
    assert after["source"] == "model+audit" and after["bound_from"] == "audit"
    assert after["interval_lower"] == round(au["interval_lower"], 6) == round(min(au["interval_lower"], model["interval_lower"]), 6)
    assert after["interval_upper"] == round(max(au["interval_upper"], model["interval_upper"]), 6)
    assert after["sample_size"] == len(samples) and after["estimated_accuracy"] == pytest.approx(au["estimated_accuracy"])
    assert after["certified"] is False and after["per_class_source"].startswith("audit")


def test_stored_answerers_give_the_measured_design_effect_in_production_as_in_the_replay():
    """Shadows stored with the annotators whose answers they used (since the measured design
    effect): when whether a shadow came out right hangs on who answered — here every wrong one
    was answered by the same annotator — the delivery API, the batch certificate and the replay's
    call all divide by the measured design effect, above the 2.5 floor."""
    project, sample = seeded()
    state = model_services.model_state(project)
    for k, row in state.shadow.items():
        row.append([900] if not row[1] else [901 + int(k) % 4, 905 + int(k) % 3])
    state.save()
    with_people = [(st, p, ok, tuple(str(a) for a in people)) for st, ok, p, people in state.shadow.values()]
    batch = batch_cut(project=project, kind=DeliveryBatch.Kind.REQUESTED)
    certificate = batch_certify(batch_id=batch.pk)
    customer = customer_with_token(organization=project.organization)
    summary = customer.client.get(f"/api/projects/{project.pk}/delivery/").json()["summary"]
    items = list(Item.objects.filter(project=project, is_known=False).values_list("status", "p_correct"))
    measured = replay_call(project, with_people, items)
    floor = replay_call(project, sample, items)
    assert measured.design_effect > SHADOW_DESIGN_EFFECT == floor.design_effect
    assert measured.lower < floor.lower and measured.accuracy == floor.accuracy
    assert {k: summary[k] for k in FIGURES} == figures(measured) == {k: certificate["model"][k] for k in FIGURES}
    assert f"design effect {measured.design_effect:.2f}" in certificate["model"]["method"]
    assert "measured" in summary["method"]
