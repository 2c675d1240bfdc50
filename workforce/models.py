"""Annotators and their relation to projects: onboarding progress and standing.

workforce sits above tasks_app (it reads projects, examples, items) and below quality,
which writes standing and the known-check rate through ``workforce.services``.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tasks_app.models import Project


class AnnotatorProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator")
    display_name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.display_name


class Membership(models.Model):
    """One annotator on one project.

    ``stage`` is onboarding progress (tutorial → qualifier → working, or failed after the
    last qualifier attempt). ``standing`` is the quality engine's gating decision, with the
    reason the annotator sees. ``known_check_rate`` is the probability that the next task
    is a hidden known-answer check, set by the quality engine after each scored check.
    """

    class Stage(models.TextChoices):
        TUTORIAL = "tutorial", "Tutorial"
        QUALIFIER = "qualifier", "Qualifier"
        WORKING = "working", "Working"
        FAILED = "failed", "Did not qualify"

    class Standing(models.TextChoices):
        ACTIVE = "active", "Active"
        WARNED = "warned", "Warned"
        PAUSED = "paused", "Paused (back to the tutorial)"
        REVOKED = "revoked", "Revoked"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.TUTORIAL)
    standing = models.CharField(max_length=16, choices=Standing.choices, default=Standing.ACTIVE)
    standing_reason = models.TextField(blank=True, default="")
    standing_changed_at = models.DateTimeField(null=True, blank=True)
    tutorial_completed_at = models.DateTimeField(null=True, blank=True)
    qualifier_correct = models.PositiveIntegerField(null=True, blank=True)
    qualifier_total = models.PositiveIntegerField(null=True, blank=True)
    qualifier_attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    known_check_rate = models.FloatField(default=1.0)
    qualified_spec_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The project's spec version when this annotator last passed its qualifier."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(known_check_rate__gte=0) & Q(known_check_rate__lte=1), name="membership_check_rate_range"
            ),
        ]

    @property
    def can_work(self) -> bool:
        return self.stage == self.Stage.WORKING and self.standing not in (self.Standing.PAUSED, self.Standing.REVOKED)


class QualifierAttempt(models.Model):
    """One sitting of the qualifier quiz: graded only when submitted, feedback at the end."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="qualifier_attempts_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    responses = models.JSONField(default=dict, help_text="example id → chosen label")
    correct = models.PositiveIntegerField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["membership", "number"], name="qualifier_attempt_number_unique")]
