"""Customer API for a project's audience: read/set rules, and the eligibility estimate."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cadre.api_errors import PROJECT_ERRORS, error_responses
from tasks_app.api import IsCustomer
from tasks_app.models import Project

from . import selectors, services
from .models import Audience
from .serializers import AudienceSerializer, EstimateSerializer


def nested_errors(flat: dict) -> dict:
    """The service's flat keys ("rules.age", "quotas[1].values") in the API's documented
    nested shape: {"rules": {"age": [...]}, "quotas": [{}, {"values": [...]}]}."""
    out: dict = {}
    for key, msgs in flat.items():
        m = re.fullmatch(r"quotas\[(\d+)\]\.(\w+)", key)
        if m:
            rows = out.setdefault("quotas", [])
            i = int(m.group(1))
            while len(rows) <= i:
                rows.append({})
            rows[i][m.group(2)] = msgs
        elif key.startswith("rules."):
            out.setdefault("rules", {})[key[len("rules."):]] = msgs
        else:
            out[key] = msgs
    return out


class _ProjectView(APIView):
    permission_classes = [IsCustomer]

    def project(self, pk: int) -> Project:
        return get_object_or_404(Project, pk=pk, organization_id=self.request.user.customer.organization_id)


def _audience_data(project: Project) -> dict:
    a = Audience.objects.filter(project=project).first()
    if a is None:
        return {"rules": {}, "quotas": [], "answers_per_day": None, "invite_only": False, "updated_at": None}
    return AudienceSerializer(a).data


class AudienceView(_ProjectView):
    @extend_schema(responses={200: AudienceSerializer, **error_responses(*PROJECT_ERRORS)})
    def get(self, request: Request, project_pk: int) -> Response:
        """The project's audience rules and quotas (empty rules: every active annotator)."""
        return Response(_audience_data(self.project(project_pk)))

    @extend_schema(request=AudienceSerializer, responses={200: AudienceSerializer, **error_responses(400, *PROJECT_ERRORS)})
    def put(self, request: Request, project_pk: int) -> Response:
        """Replace the audience. A rule on an unknown attribute or a bad value: 400 with field
        errors (``rules.<attribute>``, ``quotas[i].<field>``) and nothing changed."""
        project = self.project(project_pk)
        ser = AudienceSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            services.audience_set(project=project, **{k: ser.validated_data[k] for k in
                                                       ("rules", "quotas", "answers_per_day", "invite_only")})
        except DjangoValidationError as exc:
            raise ValidationError(nested_errors(exc.message_dict) if hasattr(exc, "error_dict")
                                  else {"non_field_errors": exc.messages}) from None
        return Response(_audience_data(project))


class AudienceEstimateView(_ProjectView):
    @extend_schema(
        parameters=[OpenApiParameter("answers_per_day", int, required=False,
                                     description="Answers per day to test against (default: the audience's).")],
        responses={200: EstimateSerializer, **error_responses(400, *PROJECT_ERRORS)},
    )
    def get(self, request: Request, project_pk: int) -> Response:
        """How many annotators are eligible (aggregates only, no group under 5 people), the
        pool's answers per day from its past activity, and the shortfall when it cannot
        deliver the answers per day needed."""
        project = self.project(project_pk)
        raw = request.query_params.get("answers_per_day")
        needed = None
        if raw not in (None, ""):
            if not re.fullmatch(r"[0-9]{1,8}", raw) or not 1 <= int(raw) <= 10_000_000:
                raise ValidationError({"answers_per_day": ["A whole number of answers per day, at least 1."]})
            needed = int(raw)
        return Response(EstimateSerializer(selectors.audience_estimate(project=project, answers_per_day=needed)).data)
