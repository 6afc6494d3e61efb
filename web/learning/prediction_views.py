"""The prediction log: list it, export it, and an admin's delete by filter."""

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from web.accounts.scopes import Scope
from web.api.exports import ExportOptionsSerializer, ExportView, Table, export_responses
from web.api.schema import error_responses
from web.learning.prediction_selectors import prediction_list
from web.learning.prediction_serializers import (
    LoggedPredictionSerializer,
    PredictionDeleteResultSerializer,
    PredictionDeleteSerializer,
    PredictionFilterSerializer,
)
from web.learning.prediction_services import prediction_delete

_FILTERS = tuple(PredictionFilterSerializer().fields)

_DELETE_DESCRIPTION = """\
Delete the logged predictions the filters select (those of the list), with their feedback;
review items taken from them stay, unlinked, so their texts are not offered again. A delete
needs at least one filter, or `all=true` for the whole log; a parameter it does not take is
refused rather than left out. `dry_run=true` answers the count and deletes nothing: send it
first. Deleted in batches, each a short statement of its own, so a large delete takes a
while but never holds the table."""


class PredictionView(generics.ListAPIView):
    required_scope: ClassVar = {"DELETE": Scope.ADMIN}
    serializer_class = LoggedPredictionSerializer

    def get_queryset(self):
        filters = PredictionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return prediction_list(**filters.validated_data)

    @extend_schema(
        summary="Logged predictions, newest first",
        description="What the prediction log kept (its policy is in docs/operations.md), with "
        "the feedback each got.",
        parameters=[PredictionFilterSerializer],
        responses={200: LoggedPredictionSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Delete logged predictions by filter",
        description=_DELETE_DESCRIPTION,
        parameters=[PredictionDeleteSerializer],
        responses={
            200: OpenApiResponse(
                PredictionDeleteResultSerializer, description="Deleted, or counted (dry_run)."
            ),
            **error_responses(400, 401),
        },
    )
    def delete(self, request: Request) -> Response:
        params = PredictionDeleteSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = {name: value for name, value in params.validated_data.items() if name in _FILTERS}
        if params.validated_data["dry_run"]:
            count = prediction_list(**filters).count()
        else:
            count = prediction_delete(**filters)
        return Response({"dry_run": params.validated_data["dry_run"], "count": count})


def _with_feedback(values: tuple[Any, ...]) -> tuple[Any, ...]:
    *logged, feedback_label = values
    return (*logged, feedback_label is not None, feedback_label)


# The list's fields, from the columns of the log and the label of the feedback, if any.
PREDICTIONS = Table(
    name="predictions",
    columns=LoggedPredictionSerializer.Meta.fields,
    fields=(
        "id",
        *LoggedPredictionSerializer.Meta.fields[1:-2],
        "feedback__label",
    ),
    order=("-created_at", "-id"),
    row=_with_feedback,
)

_EXPORT_DESCRIPTION = """\
The logged predictions the filters select (those of `GET /api/predictions/`), newest first,
streamed, with the fields of the list: as CSV (quoted where needed), TSV or JSON lines (one
object per prediction, as the list shows it). In CSV and TSV, `scores` is a JSON object,
`has_feedback` is `true` or `false` and a null `feedback_label` is empty; TSV writes a tab or
line break in a text as a space.

At most EXPORT_MAX_CONCURRENT exports run at once in each web process; the next is answered
503 with Retry-After."""


class PredictionExportView(ExportView):
    table = PREDICTIONS

    @extend_schema(
        summary="Export logged predictions as CSV, TSV or JSON lines",
        description=_EXPORT_DESCRIPTION,
        parameters=[PredictionFilterSerializer, ExportOptionsSerializer],
        responses=export_responses("The logged predictions"),
    )
    def get(self, request: Request):
        filters = PredictionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return self.export(request, prediction_list(**filters.validated_data))
