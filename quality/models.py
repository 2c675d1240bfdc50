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
        indexes = [models.Index(fields=["project", "annotator"])]


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
    """An expert's label for an item left uncertain at the cap: it resolves the item.
    One per item (the unique constraint makes resolving idempotent)."""

    item = models.OneToOneField("tasks_app.Item", on_delete=models.CASCADE, related_name="expert_review")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="expert_reviews")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="expert_reviews")
    label = models.CharField(max_length=200)
    p_correct = models.FloatField(help_text="The expert's accuracy as the engine knows it (see expert_p_correct).")
    method = models.CharField(max_length=200)
    previous_status = models.CharField(max_length=16)
    previous_label = models.CharField(max_length=200, null=True, blank=True)
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
