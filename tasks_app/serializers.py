"""DRF serializers for the customer API: shape and type checks only; rules live in services."""
from __future__ import annotations

from rest_framework import serializers

from .models import Example, Item, Project


class ExampleInSerializer(serializers.Serializer):
    data = serializers.JSONField(help_text="The example's content, as items carry it (e.g. {\"text\": ...}).")
    label = serializers.CharField(
        max_length=200, required=False, allow_null=True, default=None,
        help_text="The correct label (single choice; a rating or a candidate number may also be given here).",
    )
    value = serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text="The correct answer of a structured task type: a list of labels (multi_choice), a number (rating), "
        "a text or a list of keywords (text), [{label, x, y, w, h}] as fractions of the image (bbox), the "
        "candidate's number 1..N (most_similar).",
    )
    explanation = serializers.CharField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(
        choices=Example.Role.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="tutorial, qualifier or known. Leave empty for the automatic split: first 20 % tutorial, "
        "next 30 % qualifier, the rest hidden known-answer items.",
    )


class ExampleOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Example
        fields = ["id", "data", "label", "value", "explanation", "role"]


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    instructions = serializers.CharField()
    task_type = serializers.ChoiceField(choices=Project.TaskType.choices, default=Project.TaskType.SINGLE_CHOICE)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=100, required=False, default=list,
        help_text="The label list: single and multiple choice (at least 2), bbox classes (at least 1); "
        "leave out for rating, text and most_similar.",
    )
    type_config = serializers.JSONField(
        required=False, default=dict,
        help_text="Settings of the task type (README \"Task types\"): multi_choice {min_choices, max_choices, threshold}; "
        "rating {min, max, step, subjective, tolerance, min_label, max_label}; text {mode: exact|keywords|review, "
        "max_length, threshold}; bbox {image_field, iou, threshold, max_boxes}; most_similar {item_field, "
        "candidates_field, n}; conversation {roles, min_turns, max_turns, turn_seconds, partner_seconds, wait_seconds, "
        "labelling_project}: the labelling project (yours, a draft or in production, {\"text\"} examples) is launched "
        "by the first finished dialogue and stays open while this project runs (README \"Two-person conversations\").",
    )
    accuracy_target = serializers.FloatField(min_value=0.5, max_value=0.999)
    confidence = serializers.FloatField(min_value=0.8, max_value=0.999, default=0.95)
    max_answers = serializers.IntegerField(min_value=1, max_value=50, default=10)
    annotator_bar = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None)
    qualifier_pass_mark = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.8)
    qualifier_max_attempts = serializers.IntegerField(min_value=1, max_value=10, default=2)
    qualifier_wait_seconds = serializers.IntegerField(min_value=0, max_value=30 * 24 * 3600, default=24 * 3600)
    batch_size = serializers.IntegerField(
        min_value=0, max_value=1_000_000, default=1000,
        help_text="A delivery batch is cut every this many decided items (0: only on request and at completion).",
    )
    examples = ExampleInSerializer(many=True)

    # Rules on the spec (distinct labels, example labels among them, at least 3 examples,
    # every role present) are the service's: tasks_app.services.project_create.


class ProjectSerializer(serializers.ModelSerializer):
    items_total = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "instructions",
            "task_type",
            "labels",
            "type_config",
            "accuracy_target",
            "confidence",
            "max_answers",
            "annotator_bar",
            "qualifier_pass_mark",
            "qualifier_max_attempts",
            "qualifier_wait_seconds",
            "status",
            "created_at",
            "launched_at",
            "items_total",
            "phase",
            "pilot_size",
            "batch_size",
            "spec_version",
            "requalify_from_version",
        ]
        read_only_fields = fields

    def get_items_total(self, obj: Project) -> int:
        value = getattr(obj, "items_total", None)
        return value if value is not None else obj.items.filter(is_known=False).count()


class ProjectDetailSerializer(ProjectSerializer):
    examples = ExampleOutSerializer(many=True, read_only=True)

    class Meta(ProjectSerializer.Meta):
        fields = ProjectSerializer.Meta.fields + ["examples"]
        read_only_fields = fields


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers instead of turning them into strings: an id sent
    as ``5`` is a customer bug worth reporting, not something to guess about."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


def _flatten(prefix: str, detail) -> list[str]:
    """DRF's nested error detail as flat ``"<prefix>: <field>: <message>"`` strings."""
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            sub = prefix if key == "non_field_errors" else f"{prefix}: {key}"
            out.extend(_flatten(sub, value))
        return out
    if isinstance(detail, list):
        return [m for d in detail for m in _flatten(prefix, d)]
    return [f"{prefix}: {detail}"]


class ItemInSerializer(serializers.Serializer):
    external_id = StrictCharField(max_length=200, help_text="Your own id; uploading it again adds nothing.")
    data = serializers.JSONField()


class ItemUploadSerializer(serializers.Serializer):
    items = ItemInSerializer(many=True, allow_empty=False, max_length=100_000)

    def to_internal_value(self, data):
        """Row errors as ``"Row <i>: <field>: <message>"`` (rows counted from 0, as the
        service counts them) instead of DRF's positional list with an empty entry per good row."""
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            rows = detail.get("items") if isinstance(detail, dict) else None
            # DRF gives per-row errors as a list (an empty entry per good row) or as a
            # dict keyed by the row index (only the bad rows), depending on the path.
            if isinstance(rows, list) and any(isinstance(r, dict) for r in rows):
                per_row = [(i, r) for i, r in enumerate(rows) if r]
            elif isinstance(rows, dict) and rows and all(str(k).isdigit() for k in rows):
                per_row = sorted(((int(k), r) for k, r in rows.items()), key=lambda kr: kr[0])
            else:
                raise
            messages = [m for i, r in per_row for m in _flatten(f"Row {i}", r)]
            raise serializers.ValidationError({"items": messages[:50]}) from None


class UploadResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    existing = serializers.IntegerField()


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "external_id", "data", "status", "label", "value", "p_correct", "answers_count", "created_at"]
        read_only_fields = fields
