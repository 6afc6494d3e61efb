import io
from typing import Any, BinaryIO

from django.conf import settings
from django.db.models import QuerySet
from django.utils.http import parse_header_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from common.datafiles import (
    MAX_REPORTED_ERRORS,
    MEDIA_TYPES,
    DataImportError,
    DataImportFormat,
    format_from_media_type,
)
from common.limits import MAX_BULK_ITEMS
from web.api.exceptions import error_body
from web.api.schema import ErrorSerializer, error_responses
from web.data.imports import (
    check_import_size,
    import_file,
    import_options,
    invalid_summary,
    uploaded_file,
)
from web.data.models import Data
from web.data.selectors import data_list
from web.data.serializers import (
    DataFilterSerializer,
    DataImportErrorSerializer,
    DataImportOptionsSerializer,
    DataImportResultSerializer,
    DataImportRowErrorSerializer,
    DataImportUploadSerializer,
    DataSerializer,
)
from web.data.services import (
    DataImportInvalid,
    data_bulk_create,
    data_create,
    data_delete,
    data_update,
)

_OneOrMany = PolymorphicProxySerializer(
    component_name="DataOneOrMany",
    serializers=[DataSerializer, DataSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)


@extend_schema_view(
    list=extend_schema(
        summary="List data",
        parameters=[DataFilterSerializer],
        responses={200: DataSerializer(many=True), **error_responses(400, 401, 404)},
    ),
    create=extend_schema(
        summary="Create one item, or many at once",
        description=(
            "Send one object to create one item, or a list of up to "
            f"{MAX_BULK_ITEMS:,} objects to create them all in one transaction: either every "
            "item is created or, if any item is invalid, none is and the error names each "
            "bad item by its index (`[3].label`). The answer is what was sent, created: one "
            "object, or the list of created objects in the order sent."
        ),
        request=_OneOrMany,
        responses={201: _OneOrMany, **error_responses(400, 401, 413)},
    ),
    retrieve=extend_schema(
        summary="Get one item", responses={200: DataSerializer, **error_responses(401, 404)}
    ),
    update=extend_schema(
        summary="Replace an item's text and label",
        responses={200: DataSerializer, **error_responses(400, 401, 404, 413)},
    ),
    partial_update=extend_schema(
        summary="Change an item's text or label",
        responses={200: DataSerializer, **error_responses(400, 401, 404, 413)},
    ),
    destroy=extend_schema(
        summary="Delete an item",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 404)},
    ),
)
class DataViewSet(viewsets.ModelViewSet):
    """Labelled training data: the examples a model learns from."""

    serializer_class = DataSerializer

    def get_queryset(self) -> QuerySet[Data]:
        if self.action != "list":
            return data_list()
        filters = DataFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return data_list(**filters.validated_data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if isinstance(request.data, list):
            serializer = self.get_serializer(
                data=request.data, many=True, allow_empty=False, max_length=MAX_BULK_ITEMS
            )
            serializer.is_valid(raise_exception=True)
            created = data_bulk_create(items=serializer.validated_data)
            return Response(
                self.get_serializer(created, many=True).data, status=status.HTTP_201_CREATED
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = data_create(**serializer.validated_data)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = data_update(data=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance: Data) -> None:
        data_delete(data=instance)


_IMPORT_DESCRIPTION = f"""\
Send the file as the request body with `Content-Type: text/csv`, `text/tab-separated-values`,
`application/x-ndjson` or `application/jsonl`, or as the field `file` of a multipart form
(the format then comes from `format`, or from the file name's extension: `.csv`, `.tsv`,
`.jsonl`, `.ndjson`). Files are UTF-8 (a byte order mark is allowed), up to
{settings.DATA_IMPORT_MAX_BYTES // 2**20} MiB.

- CSV and TSV: a header row naming a `text` and a `label` column, in any order; other
  columns are ignored. CSV quotes fields with double quotes; TSV has no quoting, so a text
  cannot contain a tab or a newline (like `label<TAB>text` exports of the SMS Spam
  Collection).
- JSON lines: one object with `text` and `label` strings per line.

Every row follows the same rules as `POST /api/data/`. All or nothing: if any row is
invalid, nothing is inserted and the answer lists the first {MAX_REPORTED_ERRORS} problems
by line, unless `skip_invalid=true`, which inserts the valid rows and reports the skipped
ones. Blank lines are ignored.
"""


class DataImportView(APIView):
    """Import a whole data file in one transaction: POST /api/data/import/."""

    parser_classes = (MultiPartParser,)  # a raw body is read from request.stream instead

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # `?format=` names the uploaded file's format here; DRF would take it for the
        # answer's format and fail with a 404. Every answer is JSON anyway.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    @extend_schema(
        summary="Import a CSV, TSV or JSON-lines file",
        description=_IMPORT_DESCRIPTION,
        parameters=[DataImportOptionsSerializer],
        request={
            "multipart/form-data": DataImportUploadSerializer,
            **dict.fromkeys(MEDIA_TYPES, OpenApiTypes.BINARY),
        },
        responses={
            201: OpenApiResponse(
                DataImportResultSerializer,
                description="Imported: every row, or with skip_invalid every valid row.",
            ),
            400: OpenApiResponse(
                DataImportErrorSerializer,
                description=(
                    "Invalid rows (then nothing is inserted), or a file that cannot be read: "
                    "an unknown format, not UTF-8, no text or label column, no data rows."
                ),
            ),
            **error_responses(401),
            413: OpenApiResponse(
                ErrorSerializer,
                description=f"Request body over {settings.DATA_IMPORT_MAX_BYTES // 2**20} MiB.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        check_import_size(request.META.get("CONTENT_LENGTH"))
        try:
            stream, format, skip_invalid = _import_request(request)
            report = import_file(stream=stream, format=format, skip_invalid=skip_invalid)
        except DataImportError as error:
            extra = {} if error.line is None else {"line": error.line}
            return Response(error_body(error.message, extra), status=status.HTTP_400_BAD_REQUEST)
        except DataImportInvalid as error:
            return Response(_invalid_body(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(DataImportResultSerializer(report).data, status=status.HTTP_201_CREATED)


def _import_request(request: Request) -> tuple[BinaryIO, DataImportFormat, bool]:
    """The file, its format and skip_invalid, from a multipart form or a raw body."""
    media_type, _ = parse_header_parameters(request.content_type or "")
    if media_type == "multipart/form-data":
        return uploaded_file(request.FILES, {**request.query_params.dict(), **request.POST.dict()})
    # Not request.body: that would read the whole body into memory, up to the 4 MiB of
    # DATA_UPLOAD_MAX_MEMORY_SIZE. The stream is None for an empty body.
    stream = request.stream or io.BytesIO()
    format, skip_invalid = import_options(
        request.query_params.dict(),
        format_from_media_type(request.content_type),
        f"Cannot import a body of type {media_type or '(none)'!r}: send it with "
        f'Content-Type {", ".join(MEDIA_TYPES)}, or as the field "file" of a multipart form.',
    )
    return stream, format, skip_invalid


def _invalid_body(error: DataImportInvalid) -> dict[str, Any]:
    return error_body(
        invalid_summary(error, skip_invalid="pass skip_invalid=true"),
        {
            "errors": DataImportRowErrorSerializer(error.report.errors, many=True).data,
            "rows_read": error.report.rows_read,
            "rows_invalid": error.report.rows_invalid,
        },
    )
