"""Fixtures for the security suites: one "world" with every role, built through the services.

Every piece of secret data carries a unique marker string, so a test can grep any response
body for it:

- ``KNOWNMARKER-<i>``  text of hidden known-answer examples (and so of their items);
  ``KNOWNEXPLAIN-<i>`` their explanations; their items' external ids are ``known-<example id>``.
- ``QUALMARKER-<i>`` / ``QUALEXPLAIN-<i>``  qualifier questions / explanations.
- ``TUTMARKER-<i>`` / ``TUTEXPLAIN-<i>``    tutorial examples / explanations.
- ``ITEMMARKER-<i>``  regular items' text (external ids ``item-<i>``).
- ``secretzed`` / ``secretzed-mail@example.org``  another annotator's user name and email.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks_app import services as task_services
from quality.models import Audit, AuditSample
from tasks_app.models import Answer, CustomerMember, DeliveryBatch, Example, Item, Lease, Organization, Project, Webhook
from workforce import services as wf_services
from workforce.models import (
    AnnotatorProfile, AttributeValue, Audience, Invitation, Membership, ProfileFlag, QualifierAttempt, StatusChange,
    Survey, SurveyCompletion, SurveyQuestion,
)
from workforce.models import Appeal, Earning, Membership, PayoutBatch, ProjectPay, QualifierAttempt, StandingChange

User = get_user_model()
PASSWORD = "correct-horse-battery-staple"
LABELS = ["cat", "dog"]

TUTORIAL = [
    ("TUTMARKER-1 a small animal that purrs", "cat", "TUTEXPLAIN-1 purring means cat"),
    ("TUTMARKER-2 a loyal animal that barks", "dog", "TUTEXPLAIN-2 barking means dog"),
]
QUALIFIER = [
    ("QUALMARKER-1 it meows at night", "cat", "QUALEXPLAIN-1 meowing"),
    ("QUALMARKER-2 it fetches the ball", "dog", "QUALEXPLAIN-2 fetching"),
    ("QUALMARKER-3 it climbs the curtains", "cat", "QUALEXPLAIN-3 climbing"),
]
N_KNOWN = 6
N_ITEMS = 6

# Roles of the matrix; every row of the matrix needs an expectation for each (the matrix test
# refuses a role without one).
ROLES = [
    "anonymous",
    "annotator",  # working, standing active
    "unqualified",  # joined, tutorial done, qualifier not passed yet
    "warned",  # working, standing warned
    "revoked",  # working, standing revoked
    "paused",  # working, standing paused by gating (back to the tutorial)
    "customer_a",  # member of the organization that owns project A
    "customer_b",  # member of another organization
    "staff",  # Cadre ops: is_staff, no model permissions, not superuser
    "admin",  # superuser
]
ANNOTATOR_ROLES = ["annotator", "unqualified", "warned", "revoked", "paused"]


def known_text(i: int) -> str:
    return f"KNOWNMARKER-{i} an animal of some kind"


def known_label(i: int) -> str:
    return LABELS[i % 2]


def item_text(i: int) -> str:
    return f"ITEMMARKER-{i} an animal of some kind"


@dataclass
class World:
    project: Project  # customer A's live project
    project_b: Project  # customer B's own live project
    draft: Project  # customer A's project not launched yet
    users: dict[str, Any] = field(default_factory=dict)  # role → user (no "anonymous")
    memberships: dict[str, Membership] = field(default_factory=dict)  # annotator roles on project A
    leases: dict[str, Lease] = field(default_factory=dict)  # role → their lease on project A (if any)
    other: Any = None  # "secretzed": another working annotator, with answers of their own
    other_lease: Lease | None = None
    survey: Any = None
    survey_question: Any = None
    invitation: Any = None
    flag: Any = None

    def user(self, role: str):
        return self.users.get(role)

    def web(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client

    def api(self, role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            token, _ = Token.objects.get_or_create(user=self.users[role])
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    def lease_for(self, role: str) -> Lease:
        """The role's own lease when it has one, else the working annotator's (someone else's)."""
        return self.leases.get(role) or self.leases["annotator"]


def build_project(organization: Organization, *, name: str, launch: bool = True) -> Project:
    examples = [task_services.ExampleIn(data={"text": t}, label=lab, explanation=exp, role="tutorial") for t, lab, exp in TUTORIAL]
    examples += [task_services.ExampleIn(data={"text": t}, label=lab, explanation=exp, role="qualifier") for t, lab, exp in QUALIFIER]
    examples += [
        task_services.ExampleIn(data={"text": known_text(i)}, label=known_label(i), explanation=f"KNOWNEXPLAIN-{i}", role="known")
        for i in range(N_KNOWN)
    ]
    project = task_services.project_create(
        organization=organization,
        name=name,
        instructions="Which animal is described?",
        labels=LABELS,
        accuracy_target=0.9,
        examples=examples,
        qualifier_wait_seconds=3600,
    )
    task_services.items_upload(
        project=project, rows=[{"external_id": f"item-{i}", "data": {"text": item_text(i)}} for i in range(N_ITEMS)]
    )
    return task_services.project_launch(project=project) if launch else project


def qualify(project: Project, user) -> Membership:
    m = wf_services.membership_join(project=project, annotator=user)
    m = wf_services.tutorial_complete(membership=m)
    answers = {ex.pk: ex.label for ex in Example.objects.filter(project=project, role=Example.Role.QUALIFIER)}
    result = wf_services.qualifier_submit(membership=m, responses=answers)
    assert result.attempt.passed
    return result.membership


def lease_of(membership: Membership, *, known_check_rate: float = 1.0) -> Lease:
    membership.known_check_rate = known_check_rate
    membership.save(update_fields=["known_check_rate"])
    lease = wf_services.task_next(membership=membership)
    assert lease is not None
    return lease


def signup(username: str, email: str = "", *, active: bool = True):
    user = wf_services.annotator_signup(username=username, password=PASSWORD, email=email)
    if active:  # vetting done (issue 3a): only active annotators take tasks
        wf_services.annotator_make_active(annotator=user, reason="Security world: vetted.")
    return user


@pytest.fixture
def world(db) -> World:
    org_a = Organization.objects.create(name="Org A")
    org_b = Organization.objects.create(name="Org B")
    project = build_project(org_a, name="PROJECT-A-SECRET-NAME")
    project_b = build_project(org_b, name="PROJECT-B-NAME")
    draft = build_project(org_a, name="PROJECT-A-DRAFT", launch=False)
    w = World(project=project, project_b=project_b, draft=draft)

    for role, org in (("customer_a", org_a), ("customer_b", org_b)):
        user = User.objects.create_user(username=f"sec-{role}", password=PASSWORD)
        CustomerMember.objects.create(user=user, organization=org)
        w.users[role] = user
    w.users["staff"] = User.objects.create_user(username="sec-staff", password=PASSWORD, is_staff=True)
    w.users["admin"] = User.objects.create_superuser(username="sec-admin", password=PASSWORD, email="a@example.org")

    # Another working annotator whose identity and answers nobody but ops may see.
    w.other = signup("secretzed", "secretzed-mail@example.org")
    other_m = qualify(project, w.other)
    w.other_lease = lease_of(other_m)  # a known item (check rate 1)

    for role in ANNOTATOR_ROLES:
        w.users[role] = signup(f"sec-{role}", f"sec-{role}@example.org")
    w.memberships["annotator"] = qualify(project, w.users["annotator"])
    w.leases["annotator"] = lease_of(w.memberships["annotator"])

    m = wf_services.membership_join(project=project, annotator=w.users["unqualified"])
    w.memberships["unqualified"] = wf_services.tutorial_complete(membership=m)

    m = qualify(project, w.users["warned"])
    w.leases["warned"] = lease_of(m)
    w.memberships["warned"] = wf_services.membership_standing_set(
        membership=m, standing=Membership.Standing.WARNED, reason="WARNREASON below the bar"
    )

    m = qualify(project, w.users["revoked"])
    w.leases["revoked"] = lease_of(m)  # released by the revocation below
    w.memberships["revoked"] = wf_services.membership_standing_set(
        membership=m, standing=Membership.Standing.REVOKED, reason="REVOKEREASON credibly below the bar"
    )
    m = qualify(project, w.users["paused"])
    w.leases["paused"] = lease_of(m)  # released by the pause below
    w.memberships["paused"] = wf_services.membership_standing_set(
        membership=m, standing=Membership.Standing.PAUSED, reason="PAUSEREASON go through the tutorial again"
    )
    for lease in w.leases.values():
        lease.refresh_from_db()
    # issue 3a: an open survey, an invitation for the working annotator, an open profile flag
    from workforce.models import Invitation, ProfileFlag

    w.survey = wf_services.survey_create(actor=w.users["staff"], title="SURVEY-TITLE", reward="1.50")
    w.survey_question = wf_services.survey_question_add(survey=w.survey, text="How old are you?", kind="number",
                                                        attribute="age")
    wf_services.survey_open_set(survey=w.survey, is_open=True)
    w.invitation = Invitation.objects.create(project=project, annotator=w.users["annotator"], wave=1, rank=1,
                                             predicted_accuracy=0.9)
    w.flag = ProfileFlag.objects.create(annotator=w.other, key="gender", previous="woman", previous_source="profile",
                                        previous_at=w.other.date_joined, new="man", new_source="survey:1")
    return w


def snapshot() -> dict[str, Any]:
    from dashboards.models import Suspect, SuspectRun

    """Row counts and projects' states: what a refused request must leave as it was."""
    return {
        "users": User.objects.count(),
        "projects": Project.objects.count(),
        "examples": Example.objects.count(),
        "items": Item.objects.count(),
        "answers": Answer.objects.count(),
        "leases_active": Lease.objects.filter(state=Lease.State.ACTIVE).count(),
        "memberships": Membership.objects.count(),
        "qualifier_attempts": QualifierAttempt.objects.count(),
        "project_statuses": sorted(Project.objects.values_list("id", "status")),
        # issue 5
        "project_phases": sorted(Project.objects.values_list("id", "phase", "spec_version")),
        "delivery_batches": DeliveryBatch.objects.count(),
        "webhooks_active": Webhook.objects.filter(active=True).count(),
        "audits": Audit.objects.count(),
        "audit_reviews": AuditSample.objects.filter(reviewer_label__isnull=False).count(),
        # issue 3a
        "attribute_values": AttributeValue.objects.count(),
        "survey_completions": SurveyCompletion.objects.count(),
        "surveys": Survey.objects.count(),
        "survey_questions": SurveyQuestion.objects.count(),
        "status_changes": StatusChange.objects.count(),
        "invitations": sorted(Invitation.objects.values_list("id", "state")),
        "flags_open": ProfileFlag.objects.filter(resolved_at__isnull=True).count(),
        "audiences": sorted(Audience.objects.values_list("project_id", "rules")),
        "profiles": sorted(AnnotatorProfile.objects.values_list("user_id", "status", "identity_status")),
        # pay and appeals (issue 3B)
        "standings": sorted(Membership.objects.values_list("id", "standing")),
        "appeals": sorted(Appeal.objects.values_list("id", "status")),
        "earnings": Earning.objects.count(),
        "payout_batches": PayoutBatch.objects.count(),
        "project_pay": sorted(ProjectPay.objects.values_list("project_id", "per_answer", "currency")),
        "standing_changes": StandingChange.objects.count(),
        # issue 7: label-error suspects
        "suspect_runs": SuspectRun.objects.count(),
        "suspect_reviews": Suspect.objects.exclude(outcome="").count(),
    }


SCRIPT_RE = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)


def scripts_of(body: str) -> list[str]:
    return SCRIPT_RE.findall(body)


@pytest.fixture
def sec():
    """This module's helpers and constants (a conftest cannot be imported by the tests)."""
    import types

    return types.SimpleNamespace(
        ROLES=ROLES, ANNOTATOR_ROLES=ANNOTATOR_ROLES, LABELS=LABELS, TUTORIAL=TUTORIAL, QUALIFIER=QUALIFIER,
        N_KNOWN=N_KNOWN, N_ITEMS=N_ITEMS, known_text=known_text, known_label=known_label, item_text=item_text,
        snapshot=snapshot, scripts_of=scripts_of, qualify=qualify, lease_of=lease_of, signup=signup,
        build_project=build_project, PASSWORD=PASSWORD,
    )
