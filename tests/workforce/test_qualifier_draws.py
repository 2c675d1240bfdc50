"""Qualifier banks and draws, the waiting period, the prior, and re-qualification after a
material spec change."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from quality import engine
from quality.services.common import _prior
from tasks_app.models import Example, Project
from workforce import selectors, services
from workforce.models import Membership, QualifierAttempt

pytestmark = pytest.mark.django_db


def _ready(project, user) -> Membership:
    m = services.membership_join(project=project, annotator=user)
    return services.tutorial_complete(membership=m)


def _answers(attempt, *, wrong: int = 0) -> dict[int, str]:
    out = {}
    for i, ex in enumerate(Example.objects.filter(pk__in=attempt.example_ids).order_by("position", "id")):
        out[ex.pk] = ex.label if i >= wrong else ("dog" if ex.label == "cat" else "cat")
    return out


def _open_wait(m):
    Membership.objects.filter(pk=m.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    m.refresh_from_db()
    return m


def test_each_attempt_draws_items_not_seen_before_while_the_bank_allows(make_project, make_annotator, settings):
    settings.CADRE_QUALIFIER_DRAW = 3
    project = make_project(qualifiers=7, qualifier_max_attempts=4)
    m = _ready(project, make_annotator())
    bank = set(Example.objects.filter(project=project, role="qualifier").values_list("pk", flat=True))
    asked: list[list[int]] = []
    for n in range(3):
        attempt = services.qualifier_draw(membership=m, rng=random.Random(n))
        assert len(attempt.example_ids) == 3 and set(attempt.example_ids) <= bank
        assert attempt.number == n + 1 and attempt.submitted_at is None
        # reloading the page gives the same sitting, not a new draw
        assert services.qualifier_draw(membership=m, rng=random.Random(99)).pk == attempt.pk
        result = services.qualifier_submit(membership=m, responses=_answers(attempt, wrong=3))
        assert not result.attempt.passed and result.attempt.pk == attempt.pk
        asked.append(attempt.example_ids)
        m = _open_wait(result.membership)
    assert not set(asked[0]) & set(asked[1])  # 6 of 7 bank items: the first two draws are disjoint
    # the third draw takes the one item never asked, then two of those asked longest ago (attempt 1)
    assert (bank - set(asked[0]) - set(asked[1])) <= set(asked[2])
    assert len(set(asked[2]) & set(asked[0])) == 2 and not set(asked[2]) & set(asked[1])


def test_grading_uses_the_draw_only(make_project, make_annotator, settings):
    settings.CADRE_QUALIFIER_DRAW = 2
    project = make_project(qualifiers=5)
    m = _ready(project, make_annotator())
    attempt = services.qualifier_draw(membership=m, rng=random.Random(1))
    others = Example.objects.filter(project=project, role="qualifier").exclude(pk__in=attempt.example_ids)
    # answers to questions not drawn are ignored; a drawn one left out is an error, nothing graded
    partial = {attempt.example_ids[0]: "cat"} | {ex.pk: ex.label for ex in others}
    with pytest.raises(ValidationError) as exc:
        services.qualifier_submit(membership=m, responses=partial)
    assert exc.value.message_dict == {"responses": ["Question 2 has no answer."]}
    attempt.refresh_from_db()
    assert attempt.submitted_at is None
    result = services.qualifier_submit(membership=m, responses=_answers(attempt) | {ex.pk: "cat" for ex in others})
    assert result.attempt.passed and (result.attempt.correct, result.attempt.total) == (2, 2)
    assert set(result.attempt.responses) == {str(i) for i in attempt.example_ids}
    review = selectors.qualifier_review(attempt=result.attempt)
    assert [r.example.pk for r in review] == attempt.example_ids


def test_submitting_without_opening_draws_then_grades(make_project, make_annotator):
    project = make_project(qualifiers=3)
    m = _ready(project, make_annotator())
    answers = {ex.pk: ex.label for ex in Example.objects.filter(project=project, role="qualifier")}
    result = services.qualifier_submit(membership=m, responses=answers)
    assert result.attempt.passed and len(result.attempt.example_ids) == 3


def test_waiting_period_and_attempt_limit_still_hold(make_project, make_annotator):
    project = make_project(qualifiers=3, qualifier_max_attempts=2)
    m = _ready(project, make_annotator())
    attempt = services.qualifier_draw(membership=m)
    m = services.qualifier_submit(membership=m, responses=_answers(attempt, wrong=3)).membership
    with pytest.raises(ValidationError, match="not open yet"):
        services.qualifier_draw(membership=m)
    with pytest.raises(ValidationError, match="not open yet"):
        services.qualifier_submit(membership=m, responses=_answers(attempt))
    m = _open_wait(m)
    attempt = services.qualifier_draw(membership=m)
    m = services.qualifier_submit(membership=m, responses=_answers(attempt, wrong=3)).membership
    assert m.stage == Membership.Stage.FAILED
    with pytest.raises(ValidationError, match="No qualifier attempts left"):
        services.qualifier_draw(membership=m)


def test_the_qualifier_score_of_the_draw_is_the_quality_prior(make_project, make_annotator, settings):
    settings.CADRE_QUALIFIER_DRAW = 4
    project = make_project(qualifiers=6, qualifier_pass_mark=0.75)
    m = _ready(project, make_annotator())
    attempt = services.qualifier_draw(membership=m)
    m = services.qualifier_submit(membership=m, responses=_answers(attempt, wrong=1)).membership
    assert (m.qualifier_correct, m.qualifier_total) == (3, 4)
    assert _prior(project, m) == engine.prior_from_qualifier(3, 4, 2)
    assert _prior(project, m) != engine.prior_from_qualifier(None, None, 2)


def test_a_stale_draw_is_replaced_after_a_spec_revision(make_project, make_annotator):
    project = make_project(qualifiers=3)
    m = _ready(project, make_annotator())
    first = services.qualifier_draw(membership=m)
    Project.objects.filter(pk=project.pk).update(spec_version=2)
    m.project.refresh_from_db()
    second = services.qualifier_draw(membership=m)
    assert second.pk != first.pk and second.spec_version == 2
    assert not QualifierAttempt.objects.filter(pk=first.pk).exists()
    assert QualifierAttempt.objects.filter(membership=m, submitted_at__isnull=True).count() == 1


# --- re-qualification ----------------------------------------------------------------------------

def _revise(project, *, material: bool):
    project.spec_version += 1
    if material:
        project.requalify_from_version = project.spec_version
    project.save(update_fields=["spec_version", "requalify_from_version"])


def test_passing_records_the_spec_version(make_project, make_annotator, qualify):
    project = make_project()
    Project.objects.filter(pk=project.pk).update(spec_version=3, requalify_from_version=2)
    project.refresh_from_db()
    m = qualify(project, make_annotator())
    assert m.qualified_spec_version == 3 and m.can_work


def test_material_change_requires_requalification_before_tasks(make_project, make_annotator, qualify):
    project = make_project()
    m = qualify(project, make_annotator())
    assert m.qualified_spec_version == 1 and m.qualifier_attempts == 1
    _revise(project, material=False)
    m = Membership.objects.select_related("project").get(pk=m.pk)
    assert m.can_work and not m.requalification_due  # a minor revision changes nothing
    _revise(project, material=True)
    m = Membership.objects.select_related("project").get(pk=m.pk)
    assert m.requalification_due and not m.can_work
    with pytest.raises(ValidationError):
        services.task_next(membership=m)
    m = services.membership_requalify(membership=m)
    assert m.stage == Membership.Stage.QUALIFIER and m.qualifier_attempts == 0 and m.next_attempt_at is None
    assert m.qualified_spec_version == 1  # still says what they qualified on
    attempt = services.qualifier_draw(membership=m)
    assert attempt.number == 2 and attempt.spec_version == 3
    m = services.qualifier_submit(membership=m, responses=_answers(attempt)).membership
    assert m.stage == Membership.Stage.WORKING and m.qualified_spec_version == 3 and m.qualifier_attempts == 1
    assert m.can_work and services.task_next(membership=m) is not None


def test_requalification_attempts_count_afresh_and_can_fail(make_project, make_annotator, qualify):
    project = make_project(qualifier_max_attempts=2)
    m = qualify(project, make_annotator())
    _revise(project, material=True)
    m = services.membership_requalify(membership=Membership.objects.select_related("project").get(pk=m.pk))
    for _ in range(2):
        attempt = services.qualifier_draw(membership=m)
        m = _open_wait(services.qualifier_submit(membership=m, responses=_answers(attempt, wrong=3)).membership)
    assert m.stage == Membership.Stage.FAILED and m.qualifier_attempts == 2


def test_project_requalify_task_moves_every_due_member(make_project, make_annotator, qualify):
    project = make_project()
    a = qualify(project, make_annotator())
    b = qualify(project, make_annotator())
    Membership.objects.filter(pk=b.pk).update(qualified_spec_version=None)  # qualified before versions existed
    _revise(project, material=True)
    other = make_project()
    c = qualify(other, make_annotator())
    from workforce.tasks import project_requalify

    assert project_requalify.delay(project.pk).get() == 2
    assert set(Membership.objects.filter(stage="qualifier").values_list("pk", flat=True)) == {a.pk, b.pk}
    assert Membership.objects.get(pk=c.pk).stage == Membership.Stage.WORKING
    assert project_requalify.delay(project.pk).get() == 0


def test_project_page_says_why_and_the_qualifier_opens_again(client, make_project, make_annotator, qualify):
    project = make_project()
    user = make_annotator()
    qualify(project, user)
    _revise(project, material=True)
    client.force_login(user)
    html = client.get(reverse("workforce:task", args=[project.pk])).content.decode()
    assert 'name="lease_id"' not in html and "Pass the qualifier first" in html  # no tasks while re-qualification is due
    html = client.get(reverse("workforce:project", args=[project.pk])).content.decode()
    assert "instructions changed" in html and "you qualified on version 1" in html and "count afresh" in html
    assert "0 used, 2 left" in html and "Take the qualifier" in html
    html = client.get(reverse("workforce:qualifier", args=[project.pk])).content.decode()
    assert 'name="q-' in html
    attempt = QualifierAttempt.objects.get(membership__annotator=user, submitted_at__isnull=True)
    resp = client.post(reverse("workforce:qualifier", args=[project.pk]),
                       {f"q-{k}": v for k, v in _answers(attempt).items()})
    assert resp.status_code == 302
    assert 'name="lease_id"' in client.get(reverse("workforce:task", args=[project.pk])).content.decode()
