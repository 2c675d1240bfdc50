"""Customer API for two-person conversations (issue 6): read the finished dialogues of a
conversation project, with their turns and where each went for its labelling pass."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers

from cadre.api_errors import PROJECT_ERRORS, error_responses

from . import selectors
from .api_deliveries import CustomerView
from .models import Conversation


class TurnSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="0, 1, 2, …: turns alternate, the first role speaks first.")
    role = serializers.CharField(help_text="The role's name from the spec (type_config.roles).")
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class LabellingItemSerializer(serializers.Serializer):
    project = serializers.IntegerField(help_text="The labelling project the spec names.")
    external_id = serializers.CharField(help_text="conversation-<id>")
    status = serializers.CharField()
    label = serializers.CharField(allow_null=True)


class ConversationSerializer(serializers.ModelSerializer):
    """A finished dialogue. Who wrote it is not part of it (annotators stay anonymous)."""

    scenario = serializers.CharField(source="item.external_id", help_text="external_id of the scenario item.")
    turns = serializers.SerializerMethodField()
    labelling_item = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "scenario", "state", "paired_at", "ended_at", "end_reason", "turns", "labelling_item"]

    @extend_schema_field(TurnSerializer(many=True))
    def get_turns(self, obj: Conversation) -> list[dict]:
        names = [r["name"] for r in (obj.project.type_config or {}).get("roles", [])] or ["Person 1", "Person 2"]
        return TurnSerializer(
            [{"position": t.position, "role": names[t.role], "text": t.text, "created_at": t.created_at} for t in obj.turns.all()],
            many=True,
        ).data

    @extend_schema_field(LabellingItemSerializer(allow_null=True))
    def get_labelling_item(self, obj: Conversation) -> dict | None:
        item = obj.labelling_item
        if item is None:
            return None
        return LabellingItemSerializer(
            {"project": item.project_id, "external_id": item.external_id, "status": item.status, "label": item.label}
        ).data


class ConversationsView(CustomerView, generics.ListAPIView):
    serializer_class = ConversationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        return selectors.conversations_finished(project=self.project()).select_related("project")

    @extend_schema(responses={200: ConversationSerializer(many=True), **error_responses(*PROJECT_ERRORS)})
    def get(self, request, *args, **kwargs):
        """Finished dialogues of a conversation project, oldest first (an empty list for other task types).
        Abandoned conversations are never listed: their turns were deleted."""
        return super().get(request, *args, **kwargs)
