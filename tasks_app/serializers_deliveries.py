"""Serializers for phases, spec revisions, delivery batches, exports, sample sizes and
webhooks: shapes and types only; rules are the services'."""
from __future__ import annotations

from rest_framework import serializers

from .models import DeliveryBatch, DeliveryBatchItem, Example, SpecRevision, Webhook, WebhookDelivery


class PilotStartSerializer(serializers.Serializer):
    size = serializers.IntegerField(min_value=1, max_value=100_000, help_text="How many items (the first ones uploaded) the pilot covers.")


class PhaseSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    phase = serializers.CharField()
    status = serializers.CharField()
    pilot_size = serializers.IntegerField()
    spec_version = serializers.IntegerField()
    requalify_from_version = serializers.IntegerField()


class ExampleAddSerializer(serializers.Serializer):
    data = serializers.JSONField()
    label = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    value = serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text="The correct answer of a structured task type (as in project creation's examples).",
    )
    explanation = serializers.CharField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Example.Role.choices)


class SpecReviseSerializer(serializers.Serializer):
    instructions = serializers.CharField(required=False, help_text="The new instructions (omit to keep them).")
    labels_added = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list, max_length=100)
    examples_added = ExampleAddSerializer(many=True, required=False, default=list)
    material = serializers.BooleanField(
        default=False, help_text="A material change: annotators qualified on an earlier version must qualify again."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    rerun_pilot = serializers.BooleanField(
        default=False, help_text="Under pilot review only: run a new pilot on the next pilot_size items with the revised spec."
    )


class SpecRevisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpecRevision
        fields = ["version", "instructions", "labels", "examples", "material", "note", "created_at"]
        read_only_fields = fields


class DeliveryBatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryBatch
        fields = ["number", "kind", "items_count", "spec_version", "created_at", "certificate", "certificate_updated_at"]
        read_only_fields = fields


class DeliveryBatchItemSerializer(serializers.ModelSerializer):
    value = serializers.JSONField(
        read_only=True, allow_null=True,
        help_text="The item's decided structure for the structured task types (as in the export's `value`); "
        "null for single choice.",
    )

    class Meta:
        model = DeliveryBatchItem
        fields = ["external_id", "label", "p_correct", "p_model", "answers_used", "status", "value"]
        read_only_fields = fields


class ExportSizesSerializer(serializers.Serializer):
    detail = serializers.CharField()
    items_without_size = serializers.IntegerField(help_text="Delivered items with no image size.")
    examples = serializers.ListField(child=serializers.CharField(), help_text="Up to 10 of their external ids.")


class SampleSizeQuerySerializer(serializers.Serializer):
    margin = serializers.FloatField(min_value=0.001, max_value=0.49, help_text="Half-width of the interval, e.g. 0.02.")
    confidence = serializers.FloatField(min_value=0.8, max_value=0.999, default=0.95)
    expected_accuracy = serializers.FloatField(min_value=0.01, max_value=0.999, help_text="e.g. 0.95")
    population = serializers.IntegerField(min_value=1, required=False, help_text="Items in the delivery (finite-population correction).")


class SampleSizeSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Items to review.")
    n_infinite = serializers.IntegerField(help_text="Without the finite-population correction.")
    n_wald = serializers.IntegerField(help_text="The textbook z^2 p(1-p)/margin^2, for comparison.")
    margin = serializers.FloatField()
    confidence = serializers.FloatField()
    expected_accuracy = serializers.FloatField()
    population = serializers.IntegerField(allow_null=True)
    method = serializers.CharField()


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=Webhook.Event.choices), min_length=1, max_length=10)
    project = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="Only this project's events (default: all your projects).")


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "project", "active", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    class Meta(WebhookSerializer.Meta):
        fields = WebhookSerializer.Meta.fields + ["secret"]
        read_only_fields = fields
        extra_kwargs = {"secret": {"help_text": "The HMAC-SHA256 key for `Cadre-Signature`; shown only now."}}


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "event_id", "status", "attempts", "last_status_code", "last_error", "next_attempt_at",
                  "created_at", "delivered_at", "payload"]
        read_only_fields = fields
