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
    # --- vetting (issue 3a): see VettingStatus below and services/vetting.py ---------------------
    # The column default is ``active`` so that annotators who existed before vetting (the
    # migration) and rows made outside the product (bench/load.py) keep working; the sign-up
    # service, the only product path, creates ``applicant`` explicitly.
    status = models.CharField(max_length=16, default="active", choices=[
        ("applicant", "Applicant"), ("vetted", "Vetted"), ("active", "Active"), ("suspended", "Suspended")])
    email_verified_at = models.DateTimeField(null=True, blank=True)
    identity_status = models.CharField(max_length=16, default="unchecked", choices=[
        ("unchecked", "Not checked yet"), ("passed", "Passed"), ("failed", "Failed")])
    identity_note = models.TextField(blank=True, default="")
    identity_checked_at = models.DateTimeField(null=True, blank=True)
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Status(models.TextChoices):
        APPLICANT = "applicant", "Applicant"
        VETTED = "vetted", "Vetted"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    class Identity(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

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


# =============================================================================================
# Issue 3a: vetting history, profile attributes, surveys, audience rules, invitations.
# =============================================================================================

class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} is append-only: rows are never updated.")

    def delete(self):
        raise TypeError(f"{self.model.__name__} is append-only: rows are never deleted.")


class StatusChange(models.Model):
    """One change of an annotator's platform status: who, when, why. Append-only, enforced
    twice: here (save on an existing row, update() and delete() raise) and in PostgreSQL (a
    trigger added by migration 0003 refuses UPDATE and DELETE), so raw SQL cannot rewrite it
    either. The annotator's user row is PROTECTed for the same reason."""

    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, choices=AnnotatorProfile.Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              help_text="Ops person who made the change; empty when the system did (e.g. all vetting steps done).")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["annotator", "created_at"], name="status_change_annotator_idx")]

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("StatusChange is append-only: rows are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("StatusChange is append-only: rows are never deleted.")


class AttributeValue(models.Model):
    """One reported value of one profile attribute (workforce/attributes.py), with where it
    came from and when. Every answer is kept; ``is_current`` marks the latest per attribute."""

    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attribute_values")
    key = models.CharField(max_length=32)
    value = models.JSONField()
    source = models.CharField(max_length=64, help_text='"profile" (the profile form) or "survey:<id>"')
    survey = models.ForeignKey("Survey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    is_current = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotator", "key"], condition=Q(is_current=True),
                                               name="attribute_one_current_value")]
        indexes = [models.Index(fields=["key", "is_current"], name="attribute_key_current_idx")]


class ProfileFlag(models.Model):
    """A re-asked attribute that contradicts an earlier answer: ops review it."""

    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_flags")
    key = models.CharField(max_length=32)
    previous = models.JSONField()
    previous_source = models.CharField(max_length=64)
    previous_at = models.DateTimeField()
    new = models.JSONField()
    new_source = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolution = models.TextField(blank=True, default="")


class Survey(models.Model):
    """A paid survey written by ops; its questions map answers onto profile attributes."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    reward = models.DecimalField(max_digits=8, decimal_places=2, help_text="Paid once per annotator on completion.")
    is_open = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(reward__gte=0), name="survey_reward_not_negative")]

    def __str__(self) -> str:
        return self.title


class SurveyQuestion(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single choice"
        MULTI = "multi", "Multiple choice"
        NUMBER = "number", "Number"
        TEXT = "text", "Text"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=500)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    attribute = models.CharField(max_length=32, blank=True, default="", help_text="Profile attribute the answer sets (empty: kept with the survey only).")
    choices = models.JSONField(default=list, blank=True)
    min_value = models.IntegerField(null=True, blank=True)
    max_value = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]


class SurveyCompletion(models.Model):
    """An annotator completed a survey: the payable amount, recorded once. The unique
    constraint makes paying a survey twice impossible; the pay ledger (issue 3, part B) turns
    each row into a ledger entry."""

    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="survey_completions")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="completions")
    reward = models.DecimalField(max_digits=8, decimal_places=2)
    answers = models.JSONField(help_text="question id → normalised answer")
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotator", "survey"], name="survey_completion_once")]


class Audience(models.Model):
    """Who may work on a project: rules over profile attributes and standing, optional quotas
    on the share of answers from a group, the answers per day the customer needs, and whether
    only invited annotators may work. Shapes are validated by services/audience.py."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="audience")
    rules = models.JSONField(default=dict, blank=True)
    quotas = models.JSONField(default=list, blank=True)
    answers_per_day = models.PositiveIntegerField(null=True, blank=True)
    invite_only = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)


class Invitation(models.Model):
    """An invitation to a project, in waves: best predicted accuracy first."""

    class State(models.TextChoices):
        INVITED = "invited", "Invited"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    wave = models.PositiveSmallIntegerField()
    rank = models.PositiveIntegerField()
    predicted_accuracy = models.FloatField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.INVITED)
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="invitation_once_per_project"),
            models.CheckConstraint(condition=Q(predicted_accuracy__gte=0) & Q(predicted_accuracy__lte=1),
                                   name="invitation_prediction_range"),
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


class PayAccrualMark(models.Model):
    """Where the pay accrual's incremental walk stands (one row, ``pk=1``;
    ``workforce.services.pay.earnings_accrue_all``): ``scanned_to`` is the start of the last run
    that finished its walk (the next run looks at answers scored, and items decided, since then
    minus an overlap); ``swept_at`` is the last full reconciliation walk over every payable
    answer. Only ever moved forward (``GREATEST``), so concurrent runs cannot move it back."""

    scanned_to = models.DateTimeField(null=True, blank=True)
    swept_at = models.DateTimeField(null=True, blank=True)


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
