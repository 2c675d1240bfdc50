"""Customer API shapes for audience targeting (thin: validation rules live in services/audience.py)."""
from __future__ import annotations

from rest_framework import serializers


class AudienceSerializer(serializers.Serializer):
    rules = serializers.DictField(required=False, default=dict, help_text=(
        "Attribute → rule. age: {min, max}; gender, country, education, languages, skills, device: list of accepted "
        "values (any of); standing: {min_accuracy, min_checks}. An unknown attribute is a 400."))
    quotas = serializers.ListField(child=serializers.DictField(), required=False, default=list, help_text=(
        'Share of answers from a group, enforced while tasking: {"attribute": "gender", "values": ["woman"], '
        '"min_share": 0.5} and/or "max_share".'))
    answers_per_day = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    invite_only = serializers.BooleanField(required=False, default=False, help_text=(
        "Only invited annotators (best predicted accuracy first, widened in waves) may work."))
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null: no audience set yet (everyone active).")


class EstimateSerializer(serializers.Serializer):
    rules = serializers.DictField()
    quotas = serializers.ListField(child=serializers.DictField())
    invite_only = serializers.BooleanField()
    answers_per_day_needed = serializers.IntegerField(allow_null=True)
    activity_days = serializers.IntegerField(help_text="Days of past activity the capacity is computed from.")
    suppressed_below = serializers.IntegerField(help_text="Groups smaller than this are never shown.")
    active_annotators = serializers.IntegerField(allow_null=True)
    eligible = serializers.IntegerField(allow_null=True, help_text="null when fewer than `suppressed_below`.")
    eligible_fewer_than_suppression = serializers.BooleanField()
    breakdown = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()),
                                      help_text="Eligible annotators per group; small groups merged into 'other'.")
    answers_per_active_day = serializers.FloatField(allow_null=True)
    capacity_per_day = serializers.FloatField(allow_null=True, help_text="Pool's mean answers per day (all projects).")
    capacity_per_day_low = serializers.FloatField(allow_null=True, help_text="10th percentile of the pool's days.")
    can_deliver = serializers.BooleanField(allow_null=True)
    shortfall_per_day = serializers.FloatField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField(), help_text="Quotas that limit the capacity, small quota groups.")
