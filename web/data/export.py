"""GET /api/data/export/: the data the list's filters select, as a file the import reads."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from web.api.exports import ExportOptionsSerializer, ExportView, Table, export_responses
from web.data.selectors import data_list
from web.data.serializers import DataFilterSerializer

_COLUMNS = ("id", "text", "label", "source", "created_at", "updated_at")
DATA = Table(name="data", columns=_COLUMNS, fields=_COLUMNS, order=("id",))

_DESCRIPTION = """\
Every data row the filters select (those of `GET /api/data/`), in id order, streamed: the
columns `id`, `text`, `label`, `source`, `created_at` and `updated_at`, as CSV (quoted where
needed), TSV or JSON lines (one object per row, as the list shows it). `POST
/api/data/import/` reads each file back, with its Content-Type. TSV has no quoting, so a
tab or line break in a text or label is written as a space: export CSV or JSON lines to
keep them.

At most EXPORT_MAX_CONCURRENT exports run at once in each web process; the next is answered
503 with Retry-After. An export that fails once it has started (the database went away)
ends without its last chunk, so the client sees the download cut short."""


class DataExportView(ExportView):
    table = DATA

    @extend_schema(
        summary="Export data as CSV, TSV or JSON lines",
        description=_DESCRIPTION,
        parameters=[DataFilterSerializer, ExportOptionsSerializer],
        responses=export_responses("The data rows"),
    )
    def get(self, request: Request):
        filters = DataFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return self.export(request, data_list(**filters.validated_data))
