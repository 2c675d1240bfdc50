"""Stored state of the quality engine: per-annotator posteriors and gating decisions.

The math itself is in ``quality.engine`` (no Django). These rows are what the scoring task
reads before calling it and writes after, in one transaction.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tasks_app.models import Project


class AnnotatorQuality(models.Model):
    """Beta posterior of an annotator's accuracy on a project (known-answer checks,
    with the qualifier result as prior)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotator_quality")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quality")
    alpha = models.FloatField()
    beta = models.FloatField()
    checks = models.PositiveIntegerField(default=0)
    checks_correct = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="annotator_quality_unique"),
            models.CheckConstraint(condition=Q(alpha__gt=0) & Q(beta__gt=0), name="annotator_quality_positive"),
            models.CheckConstraint(condition=Q(checks_correct__lte=models.F("checks")), name="annotator_quality_counts"),
        ]


class SubjectiveQuality(models.Model):
    """Evidence on an annotator in a subjective project (``quality.services.subjective``):
    hidden repeats answered as the first time (self-consistency: what gating reads) and agreement
    with the other answers of accepted items (peer agreement, leave-one-out: a signal shown to
    ops, never a gating reason). The gating walk itself is the annotator's ``GatingState`` row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="subjective_quality")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subjective_quality")
    repeats = models.PositiveIntegerField(default=0)
    repeats_consistent = models.PositiveIntegerField(default=0, help_text="Repeats answered as the first time.")
    repeats_credited = models.PositiveIntegerField(
        default=0, help_text="Of those, the ones gating credited (agreement can show something: engine.subjective.consistency_bar)."
    )
    peer_n = models.PositiveIntegerField(default=0)
    peer_agree = models.FloatField(default=0.0, help_text="Sum of leave-one-out agreements (ties and even medians split).")
    chance = models.FloatField(null=True, blank=True, help_text="Chance consistency at the latest repeat.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="subjective_quality_unique"),
            models.CheckConstraint(
                condition=Q(repeats_consistent__lte=models.F("repeats")) & Q(repeats_credited__lte=models.F("repeats_consistent")),
                name="subjective_quality_counts",
            ),
        ]


class GatingDecision(models.Model):
    """Every change of an annotator's standing, with its evidence, kept for appeal and audit."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gating_decisions")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gating_decisions")
    answer_id = models.BigIntegerField(null=True, blank=True, help_text="The scored answer that triggered it.")
    standing = models.CharField(max_length=16)
    previous_standing = models.CharField(max_length=16)
    reason = models.TextField()
    checks = models.PositiveIntegerField()
    checks_correct = models.PositiveIntegerField()
    accuracy = models.FloatField()
    accuracy_lower = models.FloatField()
    accuracy_upper = models.FloatField()
    bar = models.FloatField()
    model_version = models.CharField(max_length=200, blank=True, default="", help_text="Gating rule and its parameters.")
    evidence = models.JSONField(
        default=dict, blank=True, help_text="What the decision rested on (checks, interval, test statistic, check answer ids)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "annotator"]),
            # revocations by time: the /ops/metrics counter's live part (dashboards.counters)
            models.Index(fields=["created_at"], condition=Q(standing="revoked"), name="gating_revoked_idx"),
        ]


# --- audits of delivery batches (issue 5) ------------------------------------------------------

class Audit(models.Model):
    """A random audit sample of one delivery batch, sized by ``quality.engine.sampling`` for
    the customer's margin and confidence, stratified by delivered label, plus an elusion
    sample for rare classes. Reviewers (ops, or the customer's own people) give each sampled
    item its true label in the web app; the results update the batch's certificate."""

    class Status(models.TextChoices):
        OPEN = "open", "Open (being reviewed)"
        COMPLETE = "complete", "Complete"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audits")
    batch = models.OneToOneField("tasks_app.DeliveryBatch", on_delete=models.CASCADE, related_name="audit")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    margin = models.FloatField()
    confidence = models.FloatField()
    expected_accuracy = models.FloatField()
    plan = models.JSONField(default=dict, help_text="Sample size, strata and their allocation, elusion samples.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(margin__gt=0) & Q(margin__lt=0.5), name="audit_margin_range"),
            models.CheckConstraint(condition=Q(confidence__gt=0.5) & Q(confidence__lt=1), name="audit_confidence_range"),
        ]


class AuditSample(models.Model):
    """One sampled item: drawn at random from its stratum (items delivered with that label);
    ``elusion_for`` marks the extra items drawn among those *not* labelled a rare class, to
    estimate how many of that class the delivery missed."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="samples")
    item = models.ForeignKey("tasks_app.Item", on_delete=models.CASCADE, related_name="audit_samples")
    stratum = models.CharField(max_length=200, help_text="The delivered label (the stratum it was drawn from).")
    elusion_for = models.CharField(max_length=200, blank=True, default="")
    delivered_label = models.CharField(max_length=200)
    reviewer_label = models.CharField(max_length=200, null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["audit", "item"], name="audit_sample_unique")]

    @property
    def correct(self) -> bool | None:
        return None if self.reviewer_label is None else self.reviewer_label == self.delivered_label


class AnnotatorAuditRecord(models.Model):
    """Audit evidence on an annotator: how many of their answers on audited items agreed with
    the reviewer. Also added to their accuracy posterior (``quality.services.audits``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotator_audits")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_records")
    reviewed = models.PositiveIntegerField(default=0)
    agreed = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="annotator_audit_unique"),
            models.CheckConstraint(condition=Q(agreed__lte=models.F("reviewed")), name="annotator_audit_counts"),
        ]
class AnnotatorConfusion(models.Model):
    """Per-class model of one annotator on one project (issue 4, item acceptance): Dirichlet
    confusion rows (``quality.engine.confusion.Confusion.to_json``), prior from the qualifier and
    the annotator's checks on other projects; updated per check and per decided item, replaced
    by the periodic re-estimate. Kept apart from AnnotatorQuality (the Beta posterior gating reads)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotator_confusions")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="confusions")
    rows = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "annotator"], name="annotator_confusion_unique")]


class ProjectModelState(models.Model):
    """Project-level state of the item model: class prior, evidence temperature, and when the
    last periodic re-estimate ran (answers counted then), so the next one is scheduled geometrically."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="model_state")
    log_prior = models.JSONField(default=list)
    class_counts = models.JSONField(default=list)
    tau = models.FloatField(default=1.0, help_text="Evidence temperature of the calibrated posterior.")
    eps = models.FloatField(default=0.0, help_text="Hard-item share of the calibrated posterior.")
    answers_scored = models.PositiveIntegerField(default=0, help_text="Answers scored so far (schedules the re-estimate).")
    answers_at_refresh = models.PositiveIntegerField(default=0)
    answer_watermark = models.BigIntegerField(default=0, help_text="Highest answer id the last re-estimate saw.")
    refreshes = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    shadow = models.JSONField(
        default=dict, blank=True,
        help_text="Claim sample from the last re-estimate: known item id -> [shadow decision status, "
        "cross-fitted label equals the known label].",
    )
# --- issue 4 part B: gating state, expert queue, known-answer audit, answer-quality model ----------

class GatingState(models.Model):
    """The SPRT walk of one annotator on one project (``quality.engine.sprt``): the
    log-likelihood ratio after the last check, clipped at the floor (so it depends on the path
    and is stored, not recomputed), how often they were paused, and the standing the engine
    last set (to notice a standing changed by someone else: the tutorial or ops)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gating_states")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gating_states")
    llr = models.FloatField(default=0.0)
    pauses = models.PositiveSmallIntegerField(default=0)
    standing = models.CharField(max_length=16, default="active")
    model_version = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "annotator"], name="gating_state_unique")]


class ExpertReview(models.Model):
    """An expert's label (and, for the structured task types, value) for an item left uncertain
    at the cap or waiting for review: it resolves the item. One per item (the unique constraint
    makes resolving idempotent)."""

    item = models.OneToOneField("tasks_app.Item", on_delete=models.CASCADE, related_name="expert_review")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="expert_reviews")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="expert_reviews")
    label = models.CharField(max_length=200)
    value = models.JSONField(null=True, blank=True, help_text="The expert's structured answer (non-categorical types); label is its canonical form.")
    p_correct = models.FloatField(help_text="The expert's accuracy as the engine knows it (see expert_p_correct).")
    method = models.CharField(max_length=200)
    previous_status = models.CharField(max_length=16)
    previous_label = models.CharField(max_length=200, null=True, blank=True)
    previous_value = models.JSONField(null=True, blank=True)
    previous_p_correct = models.FloatField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(p_correct__gt=0) & Q(p_correct__lte=1), name="expert_review_p_range"),
        ]


class KnownAnswerFlag(models.Model):
    """A hidden known-answer item whose key strong annotators keep disagreeing with. While
    open, the item is out of the check rotation; ops confirm the key, correct it (answers
    re-scored) or keep it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Key confirmed right"
        KEPT = "kept", "Key kept (undecided)"
        CORRECTED = "corrected", "Key corrected"

    item = models.ForeignKey("tasks_app.Item", on_delete=models.CASCADE, related_name="known_flags")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="known_flags")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    key_label = models.CharField(max_length=200, help_text="The key when flagged.")
    suggested_label = models.CharField(max_length=200)
    p_key_correct = models.FloatField()
    evidence = models.JSONField(default=dict)
    model_version = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="known_flags_resolved"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    new_label = models.CharField(max_length=200, null=True, blank=True)
    rescored_answers = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["item"], condition=Q(status="open"), name="known_flag_one_open_per_item"),
        ]


class AnswerQualityModel(models.Model):
    """A fitted answer-quality model (``quality.engine.answer_model``): P(answer correct) from
    behaviour and content, trained on known-answer outcomes. Versioned; the newest row with
    ``active`` is the one used."""

    version = models.PositiveIntegerField(unique=True)
    algorithm = models.CharField(max_length=100)
    features = models.JSONField()
    blob = models.BinaryField(help_text="The fitted scikit-learn model (joblib).")
    n_train = models.PositiveIntegerField()
    n_test = models.PositiveIntegerField()
    auc_test = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict)
    reference_p = models.FloatField(help_text="Median predicted P(correct) on the training set: weight 1 at or above it.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
