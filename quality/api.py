"""Customer API views backed by the quality engine: progress and delivery."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cadre.api_errors import PROJECT_ERRORS, error_responses
from tasks_app.api import IsCustomer
from tasks_app.models import Project

from . import selectors
from .serializers import DeliverySerializer, ProgressSerializer


class CustomerProjectView(APIView):
    permission_classes = [IsCustomer]

    def project(self, pk: int) -> Project:
        return get_object_or_404(Project, pk=pk, organization_id=self.request.user.customer.organization_id)


class ProgressView(CustomerProjectView):
    @extend_schema(responses={200: ProgressSerializer, **error_responses(*PROJECT_ERRORS)})
    def get(self, request: Request, project_pk: int) -> Response:
        """Items total / accepted / pending, answers, annotators active / warned / revoked."""
        return Response(ProgressSerializer(selectors.project_progress(project=self.project(project_pk))).data)


class DeliveryView(CustomerProjectView):
    @extend_schema(responses={200: DeliverySerializer, **error_responses(*PROJECT_ERRORS)})
    def get(self, request: Request, project_pk: int) -> Response:
        """Accepted items with their label and Cadre's probability that it is right, and a
        summary: estimated accuracy, sample size, interval, certified or not."""
        return Response(DeliverySerializer(selectors.project_delivery(project=self.project(project_pk))).data)
