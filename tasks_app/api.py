"""Customer REST API: projects, items, launch. Thin: validate shape, call a service."""
from __future__ import annotations

import json
import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from cadre.api_errors import AUTH_ERRORS, PROJECT_ERRORS, ValidationErrorSerializer, error_responses

from . import services
from .idempotent import IDEMPOTENCY_PARAMETER, idempotent
from .models import Item, Project
from .serializers import (
    ItemInSerializer,
    ItemSerializer,
    ItemUploadSerializer,
    ProjectCreateSerializer,
    ProjectDetailSerializer,
    ProjectSerializer,
    UploadResultSerializer,
    _flatten,
)


def django_errors(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as DRF's 400 with field errors."""
    if hasattr(exc, "message_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"non_field_errors": exc.messages})


# --- request bodies: what the JSON decoder accepts but the rest of the stack cannot take ---

MAX_JSON_DEPTH = 100
UNSTORABLE_CHARACTERS = re.compile(r"[\x00\ud800-\udfff]")


def json_body_problem(value) -> str | None:
    """Why a decoded body cannot be taken, or None. Two things pass ``json.loads`` but break
    later with a 500: nesting deeper than ``MAX_JSON_DEPTH`` (serializing it again overflows
    Python's recursion limit; ~1000 levels already overflow the decoder itself), and strings
    (values or keys) with a NUL character or an unpaired surrogate (``\\u0000``, ``\\ud800``),
    which PostgreSQL cannot store in text or jsonb. Checked once for every body the API parses,
    iteratively (no recursion of our own)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels"
            for key, child in node.items():
                if UNSTORABLE_CHARACTERS.search(key):
                    return "a key contains a NUL character or an unpaired surrogate"
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels"
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str) and UNSTORABLE_CHARACTERS.search(node):
            return "a string contains a NUL character or an unpaired surrogate"
    return None


def json_loads_checked(text: str):
    """``json.loads`` plus :func:`json_body_problem`; any problem is a ValueError, as a
    syntax error is."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    problem = json_body_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class CheckedJSONParser(JSONParser):
    """DRF's JSONParser, plus :func:`json_body_problem` (400 instead of a 500 later)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from None
        problem = json_body_problem(value)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return value


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(f"The request body is larger than the limit of {limit} bytes (CADRE_MAX_BODY_BYTES).")


READ_CHUNK = 64 * 1024


def stream_lines(stream, limit: int | None):
    """The stream's lines (bytes, without the newline), read ``READ_CHUNK`` bytes at a time;
    PayloadTooLarge once more than ``limit`` bytes came in (whatever the header said)."""
    buf = bytearray()
    seen = 0
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            break
        seen += len(chunk)
        if limit is not None and seen > limit:
            raise PayloadTooLarge()
        scan_from = len(buf)
        buf += chunk
        nl = buf.find(b"\n", scan_from)
        pos = 0
        while nl != -1:
            yield bytes(buf[pos:nl])
            pos = nl + 1
            nl = buf.find(b"\n", pos)
        del buf[:pos]
    if buf:
        yield bytes(buf)


class JSONLinesParser(BaseParser):
    """``application/x-ndjson`` (JSON Lines): one item object per line, blank lines ignored.

    Streaming: ``parse`` returns ``{"items": <generator>}`` and reads nothing yet; the rows
    are read, decoded and parsed one line at a time while the upload consumes them (once).
    A line that is not UTF-8 or not JSON raises ParseError (400) at that point; more bytes
    than ``CADRE_MAX_BODY_BYTES`` raise PayloadTooLarge (413).
    """

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:  # empty body
            return {"items": iter(())}
        return {"items": self.rows(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}

    @staticmethod
    def rows(stream, limit: int | None):
        for n, raw in enumerate(stream_lines(stream, limit), start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise ParseError(f"Line {n} is not valid UTF-8.") from None
            if not line:
                continue
            try:
                yield json_loads_checked(line)
            except ValueError as exc:
                raise ParseError(f"Line {n} is not valid JSON: {exc}") from None


MAX_UPLOAD_ROWS = 100_000
MAX_ROW_ERRORS = 50


def rows_checked(rows, max_rows: int = MAX_UPLOAD_ROWS):
    """Rows of a streamed upload checked one at a time as ``ItemInSerializer`` checks the
    rows of a JSON upload, with the same messages (``Row <i>: <field>: <message>``).

    Good rows are passed on (external_id and data only). From the first bad row on,
    nothing more is passed on; the rest is read for more bad rows (up to 50) and then
    ValidationError is raised, so the upload consuming this generator rolls back.
    A row that is plainly fine skips the serializer (it costs ~20x the check below)."""
    errors: list[str] = []
    count = 0
    for i, row in enumerate(rows):
        count += 1
        if count > max_rows:
            raise ValidationError({"items": [f"Ensure this field has no more than {max_rows} elements."]})
        if type(row) is dict:
            ext = row.get("external_id")
            data = row.get("data")
            if (
                type(ext) is str
                and 0 < len(ext) <= 200
                and ext.isascii()
                and ext.isprintable()
                and ext == ext.strip()
                and data is not None
            ):
                if not errors:
                    yield {"external_id": ext, "data": data}
                continue
        ser = ItemInSerializer(data=row)
        if ser.is_valid():
            if not errors:
                yield dict(ser.validated_data)
            continue
        if len(errors) < MAX_ROW_ERRORS:
            errors.extend(_flatten(f"Row {i}", ser.errors))
    if errors:
        raise ValidationError({"items": errors[:MAX_ROW_ERRORS]})
    if count == 0:
        raise ValidationError({"items": ["This list may not be empty."]})


class IsCustomer(permissions.BasePermission):
    message = "This API is for customer accounts."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and hasattr(request.user, "customer"))




class CustomerProjectMixin:
    """Projects of the caller's organization only: anyone else's project is a 404."""

    permission_classes = [IsCustomer]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Project.objects.none()
        return Project.objects.filter(organization_id=self.request.user.customer.organization_id).order_by("id")


@extend_schema_view(
    list=extend_schema(responses={200: ProjectSerializer(many=True), **error_responses(*AUTH_ERRORS)}),
    retrieve=extend_schema(responses={200: ProjectDetailSerializer, **error_responses(*PROJECT_ERRORS)}),
)
class ProjectViewSet(CustomerProjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ProjectSerializer
    parser_classes = [CheckedJSONParser]  # the spec is nested JSON; forms cannot carry it

    def get_queryset(self):
        return super().get_queryset().annotate(items_total=Count("items", filter=Q(items__is_known=False)))

    def get_serializer_class(self):
        if self.action == "retrieve":
            return ProjectDetailSerializer
        return ProjectSerializer

    @extend_schema(
        request=ProjectCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ProjectDetailSerializer, **error_responses(400, *AUTH_ERRORS, 415)},
    )
    @idempotent
    def create(self, request: Request, format=None) -> Response:
        """Create a project with its spec and examples (status ``draft``)."""
        ser = ProjectCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        examples = [services.ExampleIn(**ex) for ex in data.pop("examples")]
        try:
            project = services.project_create(
                organization=request.user.customer.organization, examples=examples, **data
            )
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        project = self.get_queryset().get(pk=project.pk)
        return Response(ProjectDetailSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            200: ProjectSerializer,
            **error_responses(*PROJECT_ERRORS),
            400: OpenApiResponse(
                ValidationErrorSerializer, description="The project cannot be launched: it has no items yet, or it is complete."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, pk=None, format=None) -> Response:
        """Open the project to annotators."""
        project = self.get_object()
        try:
            services.project_launch(project=project)
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(ProjectSerializer(self.get_queryset().get(pk=project.pk)).data)


class ProjectItemsViewSet(CustomerProjectMixin, viewsets.GenericViewSet):
    """Items of one project: bulk upload (JSON or JSON Lines) and a paginated list."""

    serializer_class = ItemSerializer
    parser_classes = [CheckedJSONParser, JSONLinesParser]

    def project(self) -> Project:
        from django.shortcuts import get_object_or_404

        return get_object_or_404(super().get_queryset(), pk=self.kwargs["project_pk"])

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=[s for s, _ in Item.Status.choices])],
        responses={200: ItemSerializer(many=True), **error_responses(400, *PROJECT_ERRORS)},
    )
    def list(self, request: Request, project_pk=None) -> Response:
        """Your items (known-answer items excluded), oldest first."""
        qs = Item.objects.filter(project=self.project(), is_known=False).order_by("id")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in Item.Status.values:
                raise ValidationError({"status": [f"One of: {', '.join(Item.Status.values)}."]})
            qs = qs.filter(status=wanted)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ItemSerializer(page, many=True).data)

    @extend_schema(
        request={"application/json": ItemUploadSerializer, "application/x-ndjson": ItemUploadSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: OpenApiResponse(UploadResultSerializer, description="At least one new item was stored."),
            200: OpenApiResponse(UploadResultSerializer, description="Nothing new: every external_id was already there."),
            **error_responses(400, *PROJECT_ERRORS, 413, 415),
        },
        description="Body: `{\"items\": [{\"external_id\": ..., \"data\": ...}, ...]}`, or a bare JSON list of such "
        "objects, or JSON Lines (`Content-Type: application/x-ndjson`, one object per line). "
        "Idempotent by external_id: ids already in the project are left as they are. "
        "All or nothing: any bad row rejects the whole upload with 400 and messages naming the rows "
        "(counted from 0) or the JSON Lines line.",
    )
    @idempotent
    def create(self, request: Request, project_pk=None) -> Response:
        project = self.project()
        body = request.data
        if isinstance(body, list):
            body = {"items": body}
        if request.content_type.split(";")[0].strip() == JSONLinesParser.media_type:
            # Streamed: rows are parsed and checked while items_upload stores them in batches.
            rows = rows_checked(body.get("items", ()))
        else:
            ser = ItemUploadSerializer(data=body)
            ser.is_valid(raise_exception=True)
            rows = ser.validated_data["items"]
        try:
            result = services.items_upload(project=project, rows=rows)
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(
            {"created": result.created, "existing": result.existing},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
