"""Response shapes of the progress and delivery endpoints (documentation + output)."""
from __future__ import annotations

from rest_framework import serializers


class ProgressSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    status = serializers.CharField()
    items_total = serializers.IntegerField()
    items_accepted = serializers.IntegerField()
    items_uncertain = serializers.IntegerField(help_text="Stopped at the answer cap without reaching the target.")
    items_pending = serializers.IntegerField()
    answers = serializers.IntegerField(help_text="All answers, hidden known-answer checks included.")
    known_checks = serializers.IntegerField()
    answers_unscored = serializers.IntegerField()
    annotators_active = serializers.IntegerField()
    annotators_warned = serializers.IntegerField()
    annotators_revoked = serializers.IntegerField()


class DeliveredItemSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    label = serializers.CharField()
    p_correct = serializers.FloatField(allow_null=True, help_text="Cadre's calibrated probability that the label is right.")
    answers_used = serializers.IntegerField()
    status = serializers.CharField(help_text="accepted, or exhausted (uncertain at the answer cap).")
    value = serializers.JSONField(
        allow_null=True,
        help_text="The decided structure of a structured task type (multi_choice list, rating number, text, "
        "bbox boxes as fractions of the image, most_similar candidate number; subjective types: the distribution "
        "and its centre), as in the exports; null for single choice.",
    )


class DeliverySummarySerializer(serializers.Serializer):
    items_delivered = serializers.IntegerField()
    items_accepted = serializers.IntegerField()
    items_uncertain = serializers.IntegerField()
    estimated_accuracy = serializers.FloatField(allow_null=True)
    sample_size = serializers.IntegerField(help_text="Known-answer items behind the estimate.")
    sample_correct = serializers.IntegerField()
    interval_lower = serializers.FloatField(help_text="One-sided lower bound at `confidence`.")
    interval_upper = serializers.FloatField(help_text="One-sided upper bound at `confidence`.")
    confidence = serializers.FloatField()
    target = serializers.FloatField()
    certified = serializers.BooleanField(help_text="True only when interval_lower >= target.")
    method = serializers.CharField()
    mean_p_correct = serializers.FloatField(allow_null=True)


class DeliverySerializer(serializers.Serializer):
    project = serializers.IntegerField()
    summary = DeliverySummarySerializer()
    items = DeliveredItemSerializer(many=True)
