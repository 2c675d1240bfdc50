"""Audit shapes for the customer API."""
from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse
from rest_framework import serializers

from .models import Audit


class AuditCreateSerializer(serializers.Serializer):
    margin = serializers.FloatField(min_value=0.005, max_value=0.25, default=0.05, help_text="± accuracy the audit should pin down.")
    confidence = serializers.FloatField(min_value=0.8, max_value=0.999, required=False, help_text="Default: the project's.")
    expected_accuracy = serializers.FloatField(min_value=0.5, max_value=0.999, required=False, help_text="Default: the target.")
    min_per_class = serializers.IntegerField(min_value=0, max_value=1000, default=20)
    rare_below = serializers.FloatField(min_value=0.0, max_value=0.5, default=0.1, help_text="A class under this share of the batch is rare: it gets an elusion sample.")


class AuditSerializer(serializers.ModelSerializer):
    batch = serializers.IntegerField(source="batch.number")
    sampled = serializers.SerializerMethodField()
    reviewed = serializers.SerializerMethodField()
    wrong = serializers.SerializerMethodField()
    review_url = serializers.SerializerMethodField()

    class Meta:
        model = Audit
        fields = ["id", "batch", "status", "margin", "confidence", "expected_accuracy", "plan", "sampled", "reviewed",
                  "wrong", "created_at", "completed_at", "review_url"]
        read_only_fields = fields

    def _counts(self, obj):
        if not hasattr(obj, "_counts"):
            obj._counts = obj.samples.aggregate(
                n=Count("id"), reviewed=Count("id", filter=Q(reviewer_label__isnull=False)),
            )
            obj._counts["wrong"] = sum(1 for s in obj.samples.filter(reviewer_label__isnull=False) if not s.correct)
        return obj._counts

    def get_sampled(self, obj) -> int:
        return self._counts(obj)["n"]

    def get_reviewed(self, obj) -> int:
        return self._counts(obj)["reviewed"]

    def get_wrong(self, obj) -> int:
        return self._counts(obj)["wrong"]

    def get_review_url(self, obj) -> str:
        path = reverse("audits:audit", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
