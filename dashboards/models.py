"""Dashboards' own records: label-error suspect runs over a delivery batch and their review."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from tasks_app.models import DeliveryBatch, Item, Project


class SuspectRun(models.Model):
    """One confident-learning pass over a delivery batch (``dashboards.analysis.confident``)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        DONE = "done", "Done"
        FAILED = "failed", "Could not run"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="suspect_runs")
    batch = models.ForeignKey(DeliveryBatch, on_delete=models.CASCADE, related_name="suspect_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    method = models.JSONField(default=dict, blank=True, help_text="Features, folds, classes, thresholds, confident joint.")
    items_used = models.PositiveIntegerField(default=0)
    suspects_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "-id"], name="suspect_run_project_idx")]


class Suspect(models.Model):
    """An item the classifier confidently puts in another class than the delivered one."""

    class Outcome(models.TextChoices):
        OPEN = "", "Not reviewed"
        CORRECTED = "corrected", "Corrected"
        KEPT = "kept", "Kept"

    run = models.ForeignKey(SuspectRun, on_delete=models.CASCADE, related_name="suspects")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="label_suspicions")
    rank = models.PositiveIntegerField(help_text="1 = most suspicious (lowest margin).")
    given_label = models.CharField(max_length=200)
    suggested_label = models.CharField(max_length=200)
    self_confidence = models.FloatField(help_text="Out-of-fold P(given label).")
    suggested_confidence = models.FloatField(help_text="Out-of-fold P(suggested label).")
    margin = models.FloatField(help_text="P(given) minus the highest other probability.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OPEN, blank=True)
    final_label = models.CharField(max_length=200, blank=True, default="")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "item"], name="suspect_run_item_unique"),
            models.UniqueConstraint(fields=["run", "rank"], name="suspect_run_rank_unique"),
            models.CheckConstraint(
                condition=Q(outcome="") | (Q(reviewed_at__isnull=False) & ~Q(final_label="")),
                name="suspect_reviewed_has_label",
            ),
        ]


class ProjectClaimSnapshot(models.Model):
    """The ops overview's copy of a project's accuracy claim (``quality.selectors.project_claim``,
    computed from the shadow deliveries: several queries and a fit per project), kept for
    ``CADRE_OVERVIEW_CLAIM_SECONDS`` so that a page of the overview reads every project's claim
    in one query instead of recomputing each (``dashboards.claims``). The project's own page
    still computes the claim live."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    accuracy = models.FloatField(null=True, blank=True)
    lower = models.FloatField()
    upper = models.FloatField()
    n = models.PositiveIntegerField()
    correct = models.FloatField(default=0)
    certified = models.BooleanField(default=False)
    computed_at = models.DateTimeField()


class MetricTally(models.Model):
    """A Prometheus counter's total per project up to its mark (``dashboards.counters``): the
    events at or before ``MetricMark.through``, added once when the mark moves past them."""

    name = models.CharField(max_length=32)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "project"], name="metric_tally_unique")]


class MetricMark(models.Model):
    """How far a counter's tallies go (``dashboards.counters``): events with a time at or before
    ``through`` are in ``MetricTally``; later ones are counted live at each scrape."""

    name = models.CharField(max_length=32, primary_key=True)
    through = models.DateTimeField()
