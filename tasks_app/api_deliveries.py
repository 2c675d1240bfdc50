"""Customer API for issue 5: pilot and approval, spec revisions, delivery batches and their
streamed exports, the audit sample-size calculator, webhooks and their delivery log.
Thin: validate shape, call a service. Every POST that creates something takes an
``Idempotency-Key`` (``tasks_app.idempotent``)."""
from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from cadre.api_errors import AUTH_ERRORS, PROJECT_ERRORS, ErrorSerializer, error_responses

from . import services
from .api import CheckedJSONParser, IsCustomer, django_errors
from .idempotent import IDEMPOTENCY_PARAMETER, idempotent
from .models import DeliveryBatch, DeliveryBatchItem, Project, SpecRevision, Webhook, WebhookDelivery
from .serializers_deliveries import (
    DeliveryBatchItemSerializer,
    DeliveryBatchSerializer,
    ExportSizesSerializer,
    PhaseSerializer,
    PilotStartSerializer,
    SpecReviseSerializer,
    SpecRevisionSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)

IDEMPOTENCY_ERRORS = {
    409: OpenApiResponse(description="A request with this Idempotency-Key is still being processed."),
    422: OpenApiResponse(description="This Idempotency-Key was used for a different request."),
}


def phase_of(project: Project) -> dict:
    return {"project": project.pk, "phase": project.phase, "status": project.status, "pilot_size": project.pilot_size,
            "spec_version": project.spec_version, "requalify_from_version": project.requalify_from_version}


class CustomerView(APIView):
    permission_classes = [IsCustomer]
    parser_classes = [CheckedJSONParser]

    def project(self) -> Project:
        return get_object_or_404(Project, pk=self.kwargs["project_pk"], organization_id=self.request.user.customer.organization_id)

    def batch(self) -> DeliveryBatch:
        return get_object_or_404(DeliveryBatch, project=self.project(), number=self.kwargs["number"])


class PilotView(CustomerView):
    @extend_schema(request=PilotStartSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: PhaseSerializer, **error_responses(400, *PROJECT_ERRORS, 415), **IDEMPOTENCY_ERRORS})
    @idempotent
    def post(self, request: Request, project_pk: int) -> Response:
        """Start the pilot from draft: the first `size` items (upload order) are labelled and delivered as the
        pilot batch; the rest are held until you approve. The `pilot.ready` webhook says when to review it."""
        project = self.project()
        ser = PilotStartSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            project = services.project_pilot_start(project=project, size=ser.validated_data["size"])
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(phase_of(project))


class PilotApproveView(CustomerView):
    @extend_schema(request=None, responses={200: PhaseSerializer, **error_responses(400, *PROJECT_ERRORS)})
    def post(self, request: Request, project_pk: int) -> Response:
        """Approve the pilot under review: production starts on every held item."""
        try:
            project = services.project_pilot_approve(project=self.project())
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(phase_of(project))


class SpecView(CustomerView, generics.ListAPIView):
    serializer_class = SpecRevisionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SpecRevision.objects.none()
        return SpecRevision.objects.filter(project=self.project()).order_by("version")

    @extend_schema(responses={200: SpecRevisionSerializer(many=True), **error_responses(*PROJECT_ERRORS)})
    def get(self, request, *args, **kwargs):
        """Every version of the spec, oldest first (empty until the first revision: version 1 is the project itself)."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=SpecReviseSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: SpecRevisionSerializer, **error_responses(400, *PROJECT_ERRORS, 415), **IDEMPOTENCY_ERRORS})
    @idempotent
    def post(self, request: Request, project_pk: int) -> Response:
        """Revise the spec: new instructions, added labels, added examples. Bumps `spec_version`; with
        `material`, annotators qualified on an earlier version must qualify again; with `rerun_pilot` (under
        pilot review) a new pilot runs on the next items."""
        project = self.project()
        ser = SpecReviseSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            revision = services.project_spec_revise(project=project, **ser.validated_data)
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(SpecRevisionSerializer(revision).data, status=status.HTTP_201_CREATED)



class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python accepts, compared in UTC: PostgreSQL refuses offsets
    beyond ±15:59 (found by the schema fuzzer: a 500), so the value is converted first."""

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(dt.timezone.utc)
            except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
                raise ValidationError({self.field_name: ["That date and time is out of range."]}) from None
        return super().filter(qs, value)

class BatchFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DeliveryBatch.Kind.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = DeliveryBatch
        fields = ["kind", "created_after"]


class DeliveriesView(CustomerView, generics.ListAPIView):
    serializer_class = DeliveryBatchSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = BatchFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DeliveryBatch.objects.none()
        return DeliveryBatch.objects.filter(project=self.project()).order_by("number")

    @extend_schema(responses={200: DeliveryBatchSerializer(many=True), **error_responses(400, *PROJECT_ERRORS)})
    def get(self, request, *args, **kwargs):
        """Delivery batches with their certificates, oldest first."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=None, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: DeliveryBatchSerializer, **error_responses(400, *PROJECT_ERRORS), **IDEMPOTENCY_ERRORS})
    @idempotent
    def post(self, request: Request, project_pk: int) -> Response:
        """Cut a delivery batch now with every item decided since the last one (400 if there is none).
        Its certificate is computed right after (`certificate.status` is `pending` until then)."""
        try:
            batch = services.batch_request(project=self.project())
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        batch.refresh_from_db()
        return Response(DeliveryBatchSerializer(batch).data, status=status.HTTP_201_CREATED)


class DeliveryDetailView(CustomerView):
    @extend_schema(responses={200: DeliveryBatchSerializer, **error_responses(*PROJECT_ERRORS)})
    def get(self, request: Request, project_pk: int, number: int) -> Response:
        """One batch and its certificate: estimate, sample size, interval at your confidence, per-class
        precision and recall with intervals, the method, certified or not, and its audit if any."""
        return Response(DeliveryBatchSerializer(self.batch()).data)


class BatchItemFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[("accepted", "accepted"), ("exhausted", "exhausted")])
    label = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    p_correct_below = django_filters.NumberFilter(field_name="p_correct", lookup_expr="lt")

    class Meta:
        model = DeliveryBatchItem
        fields = ["status", "label", "external_id", "p_correct_below"]


class DeliveryItemsView(CustomerView, generics.ListAPIView):
    serializer_class = DeliveryBatchItemSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = BatchItemFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DeliveryBatchItem.objects.none()
        # value: the item's decided structure, read in the same query (as the export reads it)
        return DeliveryBatchItem.objects.filter(batch=self.batch()).annotate(value=F("item__value")).order_by("item_id")

    @extend_schema(responses={200: DeliveryBatchItemSerializer(many=True), **error_responses(400, *PROJECT_ERRORS)})
    def get(self, request, *args, **kwargs):
        """The batch's items (label, calibrated P(correct), answers used, status), paginated, in upload order."""
        return super().get(request, *args, **kwargs)


class ExportThrottle(ScopedRateThrottle):
    scope_attr = "throttle_scope"


class DeliveryExportView(CustomerView):
    throttle_classes = [UserRateThrottle, ExportThrottle]
    throttle_scope = "exports"

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, enum=list(services.EXPORT_FORMATS), default="jsonl",
                                     description="json (one object: batch, certificate, items), jsonl (one item per "
                                     "line), csv (header row), or coco (bounding-box projects: COCO object detection, "
                                     "boxes in pixels; every item needs its image size, else 409)")],
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT,
                   (200, "text/csv"): OpenApiTypes.STR, **error_responses(400, *PROJECT_ERRORS),
                   409: OpenApiResponse(ExportSizesSerializer, description="fmt=coco and some delivered items have no "
                                        "image size (data.width / data.height): how many, and up to 10 of their external ids."),
                   429: OpenApiResponse(ErrorSerializer, description="Too many exports: over `CADRE_API_RATE_EXPORTS` "
                                        "for this token; retry after the `Retry-After` header's seconds.")},
    )
    def get(self, request: Request, project_pk: int, number: int):
        """The whole batch as a file, streamed (a 1M-item batch is not loaded into memory), in a stable order
        (upload order). Rate-limited per token (`CADRE_API_RATE_EXPORTS`). `fmt=coco` (bounding-box projects):
        COCO object detection with boxes in pixels, which needs each image's size: `data.width` / `data.height`
        given at upload, or reported by the first annotator's browser; if any item lacks one, 409 before
        anything is written."""
        fmt = request.query_params.get("fmt", "jsonl")
        if fmt not in services.EXPORT_FORMATS:
            raise ValidationError({"fmt": [f"One of: {', '.join(services.EXPORT_FORMATS)}."]})
        batch = self.batch()
        problem = services.export_problem(batch=batch, fmt=fmt)
        if problem is not None:  # checked before the first byte: a refused export writes nothing
            return Response(problem[1], status=problem[0])
        resp = StreamingHttpResponse(services.batch_export(batch=batch, fmt=fmt), content_type=services.EXPORT_FORMATS[fmt])
        name = "coco.json" if fmt == "coco" else fmt
        resp["Content-Disposition"] = f'attachment; filename="project-{batch.project_id}-batch-{batch.number}.{name}"'
        return resp


class OrgWebhookMixin(CustomerView):
    def hooks(self):
        if getattr(self, "swagger_fake_view", False):
            return Webhook.objects.none()
        return Webhook.objects.filter(organization_id=self.request.user.customer.organization_id, active=True)


class WebhooksView(OrgWebhookMixin, generics.ListAPIView):
    serializer_class = WebhookSerializer

    def get_queryset(self):
        return self.hooks().order_by("id")

    @extend_schema(responses={200: WebhookSerializer(many=True), **error_responses(*AUTH_ERRORS)})
    def get(self, request, *args, **kwargs):
        """Your organization's webhooks."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=WebhookCreateSerializer, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: WebhookCreatedSerializer, **error_responses(400, *AUTH_ERRORS, 415), **IDEMPOTENCY_ERRORS})
    @idempotent
    def post(self, request: Request) -> Response:
        """Register a URL for events (`pilot.ready`, `delivery.ready`, `project.complete`, `item.reopened`). The
        response carries the signing secret, once. `item.reopened` says that items already delivered went back to
        work (an audit found them wrong, or the quality engine's re-estimate no longer accepts them): `data` is
        `{"project", "reason": "audit" | "re-estimate", "items": [{"id", "external_id", "batch", "delivered_label"}]}`
        (at most 500 items per event); treat those labels as withdrawn until a later `delivery.ready` carries
        the items again. Each POST is signed: `Cadre-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
        "<t>." + body)>`; failures are retried with exponential backoff for about 24 hours."""
        ser = WebhookCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        org = request.user.customer.organization
        project = None
        if data.get("project") is not None:
            project = Project.objects.filter(pk=data["project"], organization=org).first()
            if project is None:
                raise ValidationError({"project": ["No such project."]})
        try:
            hook = services.webhook_create(organization=org, url=data["url"], events=data["events"], project=project)
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(WebhookCreatedSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(OrgWebhookMixin):
    @extend_schema(responses={200: WebhookSerializer, **error_responses(*AUTH_ERRORS, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookSerializer(get_object_or_404(self.hooks(), pk=pk)).data)

    @extend_schema(responses={204: None, **error_responses(*AUTH_ERRORS, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        """Stop sending to this URL (pending retries are dropped; the log stays readable)."""
        services.webhook_deactivate(webhook=get_object_or_404(self.hooks(), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event = django_filters.ChoiceFilter(choices=Webhook.Event.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event"]


class WebhookDeliveriesView(CustomerView, generics.ListAPIView):
    serializer_class = WebhookDeliverySerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        hook = get_object_or_404(Webhook, pk=self.kwargs["pk"], organization_id=self.request.user.customer.organization_id)
        return WebhookDelivery.objects.filter(webhook=hook).order_by("-id")

    @extend_schema(responses={200: WebhookDeliverySerializer(many=True), **error_responses(400, *AUTH_ERRORS, 404)})
    def get(self, request, *args, **kwargs):
        """The delivery log of a webhook, newest first: each event, its attempts, last status, next retry."""
        return super().get(request, *args, **kwargs)
