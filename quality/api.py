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


# --- issue 5: audit sample-size calculator and audits of delivery batches ----------------------

from dataclasses import asdict  # noqa: E402

from django.core.exceptions import ValidationError as DjangoValidationError  # noqa: E402
from rest_framework import status  # noqa: E402
from rest_framework.exceptions import ValidationError  # noqa: E402

from cadre.api_errors import AUTH_ERRORS  # noqa: E402
from tasks_app.api import CheckedJSONParser, django_errors  # noqa: E402
from tasks_app.idempotent import IDEMPOTENCY_PARAMETER, idempotent  # noqa: E402
from tasks_app.models import DeliveryBatch  # noqa: E402
from tasks_app.serializers_deliveries import SampleSizeQuerySerializer, SampleSizeSerializer  # noqa: E402

from .engine.sampling import sample_size  # noqa: E402
from .models import Audit  # noqa: E402
from .serializers_audit import AuditCreateSerializer, AuditSerializer  # noqa: E402
from .services import audits as audit_services  # noqa: E402


class SampleSizeView(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(parameters=[SampleSizeQuerySerializer], responses={200: SampleSizeSerializer, **error_responses(400, *AUTH_ERRORS)})
    def get(self, request: Request) -> Response:
        """How many items to review to know accuracy within ±`margin` at `confidence` when it is about
        `expected_accuracy`: the smallest n whose two-sided Wilson interval is that narrow, with the
        finite-population correction when `population` (the delivery's size) is given."""
        ser = SampleSizeQuerySerializer(data=request.query_params)
        ser.is_valid(raise_exception=True)
        try:
            result = sample_size(**ser.validated_data)
        except ValueError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(asdict(result))


class BatchAuditView(CustomerProjectView):
    parser_classes = [CheckedJSONParser]

    def batch(self, project_pk: int, number: int) -> DeliveryBatch:
        return get_object_or_404(DeliveryBatch, project=self.project(project_pk), number=number)

    @extend_schema(responses={200: AuditSerializer, **error_responses(*PROJECT_ERRORS)})
    def get(self, request: Request, project_pk: int, number: int) -> Response:
        """The batch's audit: plan (sample size, strata, elusion samples), progress of the review, and the
        review page's address for your reviewers (sign in to the web app with a customer account)."""
        audit = get_object_or_404(Audit, batch=self.batch(project_pk, number))
        return Response(AuditSerializer(audit, context={"request": request}).data)

    @extend_schema(request=AuditCreateSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: AuditSerializer, **error_responses(400, *PROJECT_ERRORS, 415)})
    @idempotent
    def post(self, request: Request, project_pk: int, number: int) -> Response:
        """Draw the batch's audit sample: sized for `margin` at `confidence` (default: the project's) around
        `expected_accuracy` (default: the target), stratified by delivered label (each label at least
        `min_per_class` items), plus an elusion sample for rare classes. One audit per batch."""
        batch = self.batch(project_pk, number)
        ser = AuditCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            audit = audit_services.audit_create(batch=batch, user=request.user, **ser.validated_data)
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(AuditSerializer(audit, context={"request": request}).data, status=status.HTTP_201_CREATED)
