"""The per-class model's stored state on a real database: confusion rows from checks, the
cross-project prior, item scoring with them, and the periodic re-estimate."""
from __future__ import annotations

import pytest

from quality import services as quality_services
from quality.models import AnnotatorConfusion, AnnotatorQuality, ProjectModelState
from quality.services import model as model_services
from tasks_app.models import Item
from tests.quality.test_scoring import answer, setup_project, worker


def rows(project, user):
    return model_services.confusion_of(AnnotatorConfusion.objects.get(project=project, annotator=user), project)


@pytest.mark.django_db(transaction=True)
def test_checks_fill_confusion_rows_and_a_swapper_is_learnt():
    project = setup_project(n_items=4, n_known=12)
    honest, swapper = worker(project, "honest"), worker(project, "swapper")
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    for item in knowns:
        answer(project, honest, item, item.known_label)
        answer(project, swapper, item, "a" if item.known_label == "b" else "b")
    h, s = rows(project, honest), rows(project, swapper)
    assert h.accuracy() > 0.8 and s.accuracy() < 0.4
    # the swapper's answers are informative once learnt: "b" from them points to truth "a"
    ll = s.loglik("b")
    assert ll[project.labels.index("a")] > ll[project.labels.index("b")]
    state = ProjectModelState.objects.get(project=project)
    assert state.answers_scored == 2 * len(knowns)


@pytest.mark.django_db(transaction=True)
def test_history_on_other_projects_strengthens_the_prior():
    first = setup_project()
    second = setup_project()
    vet, newcomer = worker(first, "vet"), worker(second, "newcomer")
    worker_in_second = worker(second, "vet2")
    AnnotatorQuality.objects.create(project=first, annotator=worker_in_second, alpha=40, beta=2, checks=40, checks_correct=39)
    p_vet = model_services.annotator_prior(second, worker_in_second.pk, None)
    p_new = model_services.annotator_prior(second, newcomer.pk, None)
    assert p_vet.accuracy() > p_new.accuracy()
    assert vet  # created in another project, unused here


@pytest.mark.django_db(transaction=True)
def test_refresh_reestimates_rows_and_calibration():
    project = setup_project(n_items=6, n_known=12, max_answers=3)
    users = [worker(project, f"u{i}") for i in range(3)]
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    for u in users:
        for item in knowns:
            answer(project, u, item, item.known_label)
    for item in Item.objects.filter(project=project, is_known=False).order_by("id"):
        for u in users[:2]:
            item.refresh_from_db()
            if item.status == Item.Status.OPEN:
                answer(project, u, item, "a")
    before = ProjectModelState.objects.get(project=project)
    n = quality_services.project_model_refresh(project_id=project.pk)
    state = ProjectModelState.objects.get(project=project)
    assert n > 0 and state.refreshes == before.refreshes + 1 and state.refreshed_at is not None
    assert 0.2 <= state.tau <= 1.0 and 0.0 <= state.eps < 0.5
    assert state.answer_watermark > 0 and state.answers_at_refresh == n
    assert abs(sum(__import__("math").exp(v) for v in state.log_prior) - 1.0) < 1e-6
    for u in users:
        assert rows(project, u).accuracy() > 0.8
    decided = Item.objects.filter(project=project, is_known=False).exclude(status=Item.Status.OPEN)
    assert decided.exists()
    for item in decided:  # labels and calibrated probabilities come from the re-estimate now
        assert item.label == "a" and 0.5 < item.p_correct <= 1.0


@pytest.mark.django_db(transaction=True)
def test_refresh_stores_cross_fitted_shadows_and_the_claim_uses_them_without_keys_under_audit():
    from quality.selectors.delivery import project_claim

    project = setup_project(n_items=6, n_known=12, max_answers=3)
    users = [worker(project, f"u{i}") for i in range(3)]
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    trap = knowns[-1]  # everyone contradicts its key: the key goes under audit and leaves the sample
    for u in users:
        for item in knowns:
            label = item.known_label if item != trap else ("a" if item.known_label == "b" else "b")
            answer(project, u, item, label)
    trap.refresh_from_db()
    assert trap.status != Item.Status.OPEN
    assert not ProjectModelState.objects.get(project=project).shadow
    online = project_claim(project=project).claim  # before any re-estimate: decided online
    assert online.n == len(knowns) - 1
    quality_services.project_model_refresh(project_id=project.pk)
    state = ProjectModelState.objects.get(project=project)
    assert set(state.shadow) == {str(i.pk) for i in knowns[:-1]}
    assert all(status in ("accepted", "exhausted") and ok is True and 0.5 <= p <= 1.0
               for status, ok, p, _ in state.shadow.values())
    # each shadow keeps the annotators whose answers it used (the claim's measured design effect)
    members = {str(u.pk) for u in users}
    assert all(answerers and set(answerers) <= members for *_, answerers in state.shadow.values())
    assert "measured" in project_claim(project=project).claim.method
    claim = project_claim(project=project).claim
    assert claim.n == len(knowns) - 1 and claim.correct == len(knowns) - 1
    Item.objects.filter(pk=knowns[0].pk).update(status=Item.Status.EXHAUSTED)  # another key goes under audit
    claim = project_claim(project=project).claim
    assert claim.n == len(knowns) - 2 and claim.correct == len(knowns) - 2


@pytest.mark.django_db(transaction=True)
def test_claim_is_post_stratified_by_difficulty_as_the_replay_computes_it():
    """Known items easier than the regular ones (high cross-fitted P, all right) must not carry
    the claim for a delivery of hard items (low P): production makes the replay's call, on the
    stored shadows and the delivered items' own status and P."""
    from quality import engine
    from quality.selectors.delivery import project_claim

    project = setup_project(n_items=60, n_known=80, max_answers=3, target=0.9)
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    # the cross-fitted shadows: 50 easy known items (P 0.99, all right), 30 hard ones (P 0.6, 18 right)
    shadow = {str(k.pk): ["accepted", True, 0.99] if i < 50 else ["accepted", i < 68, 0.6] for i, k in enumerate(knowns)}
    state = model_services.model_state(project)
    state.shadow, state.refreshes = shadow, 1
    state.save()
    # the delivery is mostly hard items
    for i, item in enumerate(regular):
        Item.objects.filter(pk=item.pk).update(status=Item.Status.ACCEPTED, label="a", p_correct=0.99 if i < 10 else 0.6)
    claim = project_claim(project=project).claim
    expected = engine.post_stratified_claim(
        [(st, p, ok) for st, ok, p in shadow.values()], [("accepted", 0.99)] * 10 + [("accepted", 0.6)] * 50,
        confidence=project.confidence, target=project.accuracy_target,
    )
    assert claim == expected
    # the hard cell weighs 5/6 of the delivery: 1/6 * 1.0 + 5/6 * 0.6, not the known items' 68/80
    assert abs(claim.accuracy - (1 / 6 + 5 / 6 * 0.6)) < 1e-9
    assert claim.lower < 0.67 < 68 / 80
    assert claim.n == 80 and claim.correct == 68 and "post-stratified" in claim.method
    # shadows stored before the score was kept (status, correct): the claim falls back to status strata
    state.shadow = {k: v[:2] for k, v in shadow.items()}
    state.save()
    old = project_claim(project=project).claim
    assert old.n == 80 and abs(old.accuracy - 68 / 80) < 1e-9


@pytest.mark.django_db(transaction=True)
def test_refresh_reopens_acceptances_the_reestimate_no_longer_supports_as_the_replay_does():
    """Two answers accepted an item while its annotators' rows were still their prior; their
    checks then show them weak, and the re-estimate reopens the item (open, one more answer
    wanted, label cleared) — exactly the items ``engine.reopen_decision`` picks on the stored
    rows after the re-estimate (the crowd replay's call); a well-supported item stays."""
    from quality import engine

    project = setup_project(n_items=3, n_known=12, max_answers=5, target=0.9)
    weak = [worker(project, "w0", qualifier=(2, 2)), worker(project, "w1", qualifier=(2, 2))]
    strong = [worker(project, f"s{i}", qualifier=(2, 2)) for i in range(3)]
    regular = list(Item.objects.filter(project=project, is_known=False).order_by("id"))
    first, second = regular[0], regular[1]
    for u in weak:
        first.refresh_from_db()
        answer(project, u, first, "a")
    first.refresh_from_db()
    assert first.status == Item.Status.ACCEPTED
    knowns = list(Item.objects.filter(project=project, is_known=True).order_by("id"))
    for u in strong:
        for item in knowns:
            answer(project, u, item, item.known_label)
    for u in weak:  # right on 7 of 12: close to guessing
        for j, item in enumerate(knowns):
            answer(project, u, item, item.known_label if j % 12 < 7 else ("a" if item.known_label == "b" else "b"))
    for u in strong[:2]:
        second.refresh_from_db()
        if second.status == Item.Status.OPEN:
            answer(project, u, second, "b")
    second.refresh_from_db()
    assert second.status == Item.Status.ACCEPTED

    quality_services.project_model_refresh(project_id=project.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Item.Status.OPEN and first.label is None and first.answers_wanted == 3
    assert second.status == Item.Status.ACCEPTED

    # parity: the engine call the replay makes, on the stored rows after the re-estimate
    state = ProjectModelState.objects.get(project=project)
    weightless = model_services.weightless_annotators(project)
    for item, expect_open in ((first, True), (second, False)):
        answers = list(item.answers.order_by("id").values_list("annotator_id", "label", "weight"))
        confs = [(lab, None if a in weightless else rows(project, a)) for a, lab, _ in answers]
        again = engine.reopen_decision(project.labels, state.log_prior, confs, target=project.accuracy_target,
                                       cap=project.max_answers, weights=[w for *_, w in answers])
        assert (again is not None) is expect_open


@pytest.mark.django_db(transaction=True)
def test_refresh_relabels_decided_items_with_the_map_label_as_the_replay_does():
    """The re-estimate's relabelling (``quality.services.model._relabel_decided``) stores what
    the crowd replay delivers (``engine.em.delivered_label``): the MAP label, not the tempered
    posterior's argmax, with its calibrated P — on a fit where the two disagree."""
    import numpy as np
    from django.db import transaction

    from quality.engine.em import EMResult, delivered_label

    project = setup_project(n_items=2, n_known=12, max_answers=3)
    users = [worker(project, f"u{i}") for i in range(2)]
    item = Item.objects.filter(project=project, is_known=False).order_by("id").first()
    for u in users:
        item.refresh_from_db()
        if item.status == Item.Status.OPEN:
            answer(project, u, item, "b")
    item.refresh_from_db()
    assert item.status != Item.Status.OPEN
    lp = np.log(np.array([0.8, 0.2]))
    ev = np.array([[0.0, 2.0]])
    res = EMResult(items=[item.pk], post=np.zeros((1, 2)), evidence=ev, counts={}, log_prior=lp, iterations=1)
    assert res.tempered(0.3, 0.05)[0].argmax() == 0  # the old rule would have stored "a"
    with transaction.atomic():  # the re-estimate holds the project lock around it
        model_services._relabel_decided(project, model_services._delivered_labels(project, res, 0.3, 0.05))
    item.refresh_from_db()
    lab, p = delivered_label(project.labels, lp, ev[0], 0.3, 0.05)
    assert (item.label, item.p_correct) == (lab, pytest.approx(round(p, 6))) and lab == "b"


@pytest.mark.django_db(transaction=True)
def test_refresh_gives_the_reestimate_each_answers_quality_weight(monkeypatch):
    """The re-estimate reads each answer's stored answer-quality weight and hands it to
    ``engine.em.refit`` (which counts it as decide_confusion does); a weight not set is full."""
    from tasks_app.models import Answer

    project = setup_project(n_items=2, n_known=12, max_answers=3)
    users = [worker(project, f"u{i}") for i in range(2)]
    for u in users:
        for item in Item.objects.filter(project=project, is_known=True).order_by("id")[:4]:
            answer(project, u, item, item.known_label)
    first = Answer.objects.filter(item__project=project).order_by("id").first()
    Answer.objects.filter(pk=first.pk).update(weight=0.25)
    seen = {}
    real = model_services.refit

    def spy(labels, answers, *args, **kwargs):
        seen["answers"] = list(answers)
        return real(labels, answers, *args, **kwargs)

    monkeypatch.setattr(model_services, "refit", spy)
    quality_services.project_model_refresh(project_id=project.pk)
    weights = {(it, a): w for it, a, _, w in seen["answers"]}
    assert weights[(str(first.item_id), str(first.annotator_id))] == 0.25
    assert sum(1 for w in weights.values() if w is None or w == 1.0) == len(weights) - 1
