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
        return (
            self.stage == self.Stage.WORKING
            and self.standing not in (self.Standing.PAUSED, self.Standing.REVOKED)
            and not self.requalification_due
        )

    @property
    def requalification_due(self) -> bool:
        """Qualified on a spec version older than the project's ``requalify_from_version``
        (a material spec change): no tasks until the qualifier is passed again. A working
        membership without a recorded version qualified before versions existed: version 1."""
        if self.stage != self.Stage.WORKING:
            return False
        return (self.qualified_spec_version or 1) < self.project.requalify_from_version


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
    # The draw (issue 3B): which qualifier examples this sitting asks, in order, and the spec
    # version it was drawn for. An attempt is created (unsubmitted) when the quiz is first
    # opened, so reloading the page shows the same questions instead of a new draw.
    example_ids = models.JSONField(default=list, blank=True, help_text="Qualifier examples drawn for this sitting.")
    spec_version = models.PositiveIntegerField(default=1, help_text="The project's spec version it was drawn for.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "number"], name="qualifier_attempt_number_unique"),
            # at most one sitting in progress (drawn, not submitted) per membership
            models.UniqueConstraint(
                fields=["membership"], condition=Q(submitted_at__isnull=True), name="qualifier_attempt_one_open"
            ),
        ]


# --- pay, standing history and appeals (issue 3B) ------------------------------------------

class ProjectPay(models.Model):
    """What a project pays per accepted answer (absent: ``CADRE_PAY_PER_ANSWER`` in
    ``CADRE_PAY_CURRENCY``). The rate is read when an answer is accrued: changing it does
    not re-price entries already in the ledger."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="pay")
    per_answer = models.DecimalField(max_digits=10, decimal_places=4)
    currency = models.CharField(max_length=3, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(per_answer__gte=0), name="project_pay_non_negative")]

    def __str__(self) -> str:
        return f"{self.project}: {self.per_answer} {self.currency}/answer"


class PayoutBatch(models.Model):
    """Ledger entries of one period handed to payments. Creating the batch for a period a
    second time returns the first one (unique period); an entry joins at most one batch
    (``Earning.payout`` is a single foreign key, set only where it is still empty)."""

    period_start = models.DateField()
    period_end = models.DateField(help_text="Inclusive.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    entries = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period_start", "period_end"], name="payout_batch_period_unique"),
            models.CheckConstraint(condition=Q(period_start__lte=models.F("period_end")), name="payout_batch_period_order"),
        ]

    def __str__(self) -> str:
        return f"payout {self.period_start}..{self.period_end}"


class Earning(models.Model):
    """One ledger entry. ``(kind, source_key)`` is unique in the database, so the same answer,
    survey completion or bonus can never be paid twice, whoever writes it and however often
    (``workforce.services.earning_record`` is the single write path)."""

    class Kind(models.TextChoices):
        ANSWER = "answer", "Accepted answer"
        SURVEY = "survey", "Survey"
        BONUS = "bonus", "Bonus"

    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, null=True, blank=True, related_name="earnings")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source_key = models.CharField(max_length=100, help_text="answer id, survey completion id, or the bonus's key")
    amount = models.DecimalField(max_digits=12, decimal_places=4)
    currency = models.CharField(max_length=3)
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    payout = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="earnings")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "source_key"], name="earning_once_per_source"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="earning_amount_positive"),
        ]
        indexes = [models.Index(fields=["annotator", "created_at"], name="earning_annotator_idx")]


class StandingChange(models.Model):
    """Append-only history of a membership's standing: who (the engine or an ops person),
    when, from what to what, and why. Rows are only ever inserted (on PostgreSQL a trigger
    refuses UPDATE, see migration 0003)."""

    class Source(models.TextChoices):
        ENGINE = "engine", "Quality engine"
        OPS = "ops", "Ops"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="standing_history")
    from_standing = models.CharField(max_length=16, choices=Membership.Standing.choices)
    to_standing = models.CharField(max_length=16, choices=Membership.Standing.choices)
    reason = models.TextField(blank=True, default="")
    source = models.CharField(max_length=16, choices=Source.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class Appeal(models.Model):
    """An annotator's appeal against their standing on a project (warned, paused or
    revoked). One open appeal per membership at a time (partial unique index)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REINSTATED = "reinstated", "Reinstated"
        UPHELD = "upheld", "Decision upheld"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="appeals")
    text = models.TextField()
    standing_at_appeal = models.CharField(max_length=16, choices=Membership.Standing.choices)
    reason_at_appeal = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership"], condition=Q(status="open"), name="appeal_one_open"),
            models.CheckConstraint(
                condition=Q(status="open") | (Q(decided_at__isnull=False) & ~Q(decision_note="")),
                name="appeal_decided_has_note",
            ),
        ]
