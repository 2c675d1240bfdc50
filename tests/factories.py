"""factory_boy factories and small builders shared by the test suites.

Factories make rows; builders (``customer_with_token``, ``make_project``, ``annotator_working``,
``onboarding_project``, ``active_annotator``, ``qualify``) go through the real services, so the
data they leave is what the product itself would write. Passwords hash with MD5 in every test
(``tests/conftest.py``'s autouse ``_fast_password_hashing``).

    from tests.factories import customer_with_token, make_project
    customer = customer_with_token()                 # .user, .organization, .token, .client
    project = make_project(customer.organization, n_items=10)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import factory
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks_app import services as task_services
from tasks_app.models import CustomerMember, Organization, Project
from workforce.models import AnnotatorProfile, Membership

PASSWORD = "test-password-123"
SIGNUP_PASSWORD = "correct-horse-battery-staple"  # what annotators sign up with (workforce and web suites)
LABELS = ["positive", "negative"]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Org {n}")


class CustomerMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerMember

    user = factory.SubFactory(UserFactory, username=factory.Sequence(lambda n: f"customer{n}"))
    organization = factory.SubFactory(OrganizationFactory)


class AnnotatorProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnnotatorProfile
        skip_postgeneration_save = True  # the vetting hook saves through the service

    user = factory.SubFactory(UserFactory, username=factory.Sequence(lambda n: f"annotator{n}"))
    display_name = factory.LazyAttribute(lambda p: p.user.username.capitalize())
    # Vetted and active (issue 3a), with the history row the vetting service would write.
    status = AnnotatorProfile.Status.APPLICANT

    @factory.post_generation
    def vetted(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            from workforce.services.vetting import annotator_make_active

            annotator_make_active(annotator=obj.user, reason="Test factory: vetted and active.")
            obj.refresh_from_db()


def token_client(user=None) -> APIClient:
    """An APIClient sending ``Authorization: Token <key>`` for ``user`` (anonymous if None)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@dataclass
class Customer:
    user: Any
    organization: Organization
    token: Token
    client: APIClient


def customer_with_token(organization: Organization | None = None, **user_fields) -> Customer:
    """A customer user in ``organization`` (a new one by default) with an API token and a
    ready APIClient."""
    organization = organization or OrganizationFactory()
    user = UserFactory(**user_fields)
    CustomerMemberFactory(user=user, organization=organization)
    token, _ = Token.objects.get_or_create(user=user)
    return Customer(user=user, organization=organization, token=token, client=token_client(user))


def annotator(**user_fields):
    """An annotator user (with profile) — not a customer."""
    return AnnotatorProfileFactory(**({"user": UserFactory(**user_fields)} if user_fields else {})).user


def annotator_working(project: Project, user=None, *, qualifier: tuple[int, int] | None = None) -> Membership:
    """An annotator past onboarding on a live project (stage ``working``), as if they had
    done the tutorial and passed the qualifier with ``qualifier = (correct, total)``."""
    from workforce import services as workforce_services

    user = user or annotator()
    membership = workforce_services.membership_join(project=project, annotator=user)
    membership.stage = Membership.Stage.WORKING
    if qualifier is not None:
        membership.qualifier_correct, membership.qualifier_total = qualifier
    membership.save()
    return membership


def example_specs(n: int = 10, labels: Sequence[str] = LABELS) -> list[dict[str, Any]]:
    """``n`` example dicts (API shape), labels cycling through ``labels``."""
    return [
        {"data": {"text": f"example {i}"}, "label": labels[i % len(labels)], "explanation": f"because {i}"}
        for i in range(n)
    ]


def item_rows(n: int, *, prefix: str = "item", start: int = 0) -> list[dict[str, Any]]:
    """``n`` item rows (API shape) with external ids ``<prefix>-<i>``."""
    return [{"external_id": f"{prefix}-{i}", "data": {"text": f"{prefix} text {i}"}} for i in range(start, start + n)]


def true_label(external_id: str, labels: Sequence[str] = LABELS) -> str:
    """The ground truth tests use for rows made by :func:`item_rows`: labels cycle by index."""
    return labels[int(external_id.rsplit("-", 1)[1]) % len(labels)]


def make_project(
    organization: Organization,
    *,
    n_items: int = 10,
    launch: bool = True,
    n_examples: int = 10,
    labels: Sequence[str] = LABELS,
    name: str | None = None,
    **spec: Any,
) -> Project:
    """A project built through the services: ``n_examples`` examples (auto role split),
    ``n_items`` regular items (:func:`item_rows`), launched unless ``launch=False``.
    ``spec`` overrides project fields (accuracy_target, max_answers, ...)."""
    fields = {"instructions": "Choose the sentiment.", "accuracy_target": 0.9, **spec}
    examples = [task_services.ExampleIn(**ex) for ex in example_specs(n_examples, labels)]
    project = task_services.project_create(
        organization=organization,
        name=name or f"Project {Project.objects.count() + 1}",
        labels=list(labels),
        examples=examples,
        **fields,
    )
    if n_items:
        task_services.items_upload(project=project, rows=item_rows(n_items))
    if launch:
        project = task_services.project_launch(project=project)
    return project


Example = tuple[str, str, str]  # (text, label, explanation)


def onboarding_project(
    organization: Organization,
    *,
    labels: Sequence[str],
    tutorial: Sequence[Example],
    qualifier: Sequence[Example],
    known: Sequence[Example],
    items: Sequence[tuple[str, str]],
    name: str,
    instructions: str,
    launch: bool = True,
    **spec: Any,
) -> Project:
    """A project with its onboarding, built through the services: ``tutorial``, ``qualifier``
    and hidden ``known`` examples as (text, label, explanation), regular ``items`` as
    (external id, text); launched unless ``launch=False``. ``spec`` overrides project fields.
    The workforce and web suites' ``make_project`` fixtures are this with their own texts."""
    examples = [
        task_services.ExampleIn(data={"text": text}, label=label, explanation=explanation, role=role)
        for role, group in (("tutorial", tutorial), ("qualifier", qualifier), ("known", known))
        for text, label, explanation in group
    ]
    params = dict(organization=organization, name=name, instructions=instructions, labels=list(labels),
                  accuracy_target=0.9, examples=examples, qualifier_wait_seconds=3600)
    params.update(spec)
    project = task_services.project_create(**params)
    task_services.items_upload(project=project, rows=[{"external_id": ext, "data": {"text": text}} for ext, text in items])
    return task_services.project_launch(project=project) if launch else project


def active_annotator(username: str | None = None, *, reason: str = "Test: vetted.", password: str = SIGNUP_PASSWORD):
    """An annotator who signed up (the real service) and was vetted to active (issue 3a)."""
    import uuid

    from workforce import services as workforce_services

    user = workforce_services.annotator_signup(username=username or f"ann-{uuid.uuid4().hex[:8]}", password=password)
    workforce_services.annotator_make_active(annotator=user, reason=reason)  # sign-up makes an applicant
    return user


def qualify(project: Project, user) -> Membership:
    """``user``'s membership on ``project`` in the working stage, through the real onboarding:
    join, tutorial, a qualifier drawn and answered right, graded."""
    from tasks_app.models import Example as ExampleRow
    from workforce import services as workforce_services

    m = workforce_services.membership_join(project=project, annotator=user)
    m = workforce_services.tutorial_complete(membership=m)
    attempt = workforce_services.qualifier_draw(membership=m)
    answers = {ex.pk: ex.label for ex in ExampleRow.objects.filter(pk__in=attempt.example_ids)}
    result = workforce_services.qualifier_submit(membership=m, responses=answers)
    assert result.attempt.passed
    return result.membership
