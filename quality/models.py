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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "annotator"])]


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
