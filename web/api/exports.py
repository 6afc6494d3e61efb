"""Exports: a table's rows streamed as CSV, TSV or JSON lines (web/api/export_formats.py).

Rows are read in batches, each a query of its own that starts after the last row of the one
before (keyset pagination on the export's order), so an export of any size holds one batch:
no cursor or transaction stays open while a slow client reads, and each batch is a short
statement under DATABASE_STATEMENT_TIMEOUT_SECONDS, where one query over a whole large table
would not be.

Django answers on a thread of the web process's pool (web/config/asgi.py), which a streamed
answer holds until its client has read the last byte: at most EXPORT_MAX_CONCURRENT exports
run at once per process, the next is answered 503 at once, so slow readers hold at most that
many threads. A client that goes away ends its export at the next batch.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.views import APIView

from common.datafiles import FORMATS, DataImportFormat
from common.logs import correlated
from web.api.export_formats import MEDIA_TYPES, header, row_writer
from web.api.middleware import request_id_of
from web.api.schema import ErrorSerializer, error_responses

logger = logging.getLogger(__name__)

# Rows of the first batch; later batches are sized from the bytes the rows before took, to
# about BATCH_BYTES each, within these bounds (a batch of full-length texts stays small).
FIRST_BATCH_ROWS = 500
MIN_BATCH_ROWS = 50
MAX_BATCH_ROWS = 5_000
BATCH_BYTES = 1 << 20
# What one message to the client carries: few enough bytes that the messages a slow client
# has not taken yet (a2wsgi queues ten) hold little memory.
CHUNK_CHARS = 64 * 1024
# What a refused export is told to wait before trying again.
RETRY_AFTER_SECONDS = 10


class ExportsBusy(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "exports_busy"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This web process is already running {limit} exports, the most it runs at once "
            f"(EXPORT_MAX_CONCURRENT): try again in {RETRY_AFTER_SECONDS} s, or when one of "
            "yours has finished."
        )
        # DRF's exception handler sends it as the Retry-After header.
        self.wait = RETRY_AFTER_SECONDS
        self.extra = {"retry_after_seconds": RETRY_AFTER_SECONDS, "max_concurrent": limit}


class _Slots:
    """The exports under way in this process; EXPORT_MAX_CONCURRENT is read at each take, so a
    test may change it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_use = 0

    def take(self) -> Callable[[], None]:
        """A slot, or ExportsBusy; the function returned gives it back (once, however often
        it is called)."""
        limit = settings.EXPORT_MAX_CONCURRENT
        with self._lock:
            if self.in_use >= limit:
                raise ExportsBusy(limit)
            self.in_use += 1
        given_back = threading.Event()

        def give_back() -> None:
            with self._lock:
                if not given_back.is_set():
                    given_back.set()
                    self.in_use -= 1

        return give_back


slots = _Slots()


@dataclass(frozen=True)
class Table:
    """What an export writes: `columns` in the file, from the values of `fields` (ORM paths,
    the order's among them) through `row`, in `order` (one field, or two of the same direction
    whose second is unique)."""

    name: str
    columns: tuple[str, ...]
    fields: tuple[str, ...]
    order: tuple[str, ...]
    row: Callable[[tuple[Any, ...]], Sequence[Any]] = lambda values: values

    def key(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(values[self.fields.index(name.lstrip("-"))] for name in self.order)


def _after(queryset: QuerySet, order: tuple[str, ...], key: tuple[Any, ...]) -> QuerySet:
    """The rows that come after `key` in `order`."""
    names = [name.lstrip("-") for name in order]
    past, through = ("lt", "lte") if order[0].startswith("-") else ("gt", "gte")
    if len(names) == 1:
        return queryset.filter(**{f"{names[0]}__{past}": key[0]})
    first, second = names
    # (first < k1) or (first = k1 and second < k2), written so that an index on `first` alone
    # bounds the scan.
    back = "gte" if past == "lt" else "lte"
    return queryset.filter(**{f"{first}__{through}": key[0]}).exclude(
        **{first: key[0], f"{second}__{back}": key[1]}
    )


def _batch(
    table: Table, queryset: QuerySet, after: tuple[Any, ...] | None, size: int
) -> list[tuple[Any, ...]]:
    if after is not None:
        queryset = _after(queryset, table.order, after)
    return list(queryset.order_by(*table.order).values_list(*table.fields)[:size])


def _client_gone(environ: dict[str, Any]) -> Callable[[], bool]:
    """Whether the client has closed its connection. Under web/config/asgi.py, a2wsgi hands
    Django the request body as `wsgi.input`, which keeps the ASGI receive() and its event
    loop; once the body has been read, receive() answers only when the client has gone or
    the answer is complete. Elsewhere (a test's client, a plain WSGI server) it never is."""
    body = environ.get("wsgi.input")
    receive, loop = getattr(body, "receive", None), getattr(body, "loop", None)
    if receive is None or not isinstance(loop, asyncio.AbstractEventLoop):
        return lambda: False

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watch = asyncio.run_coroutine_threadsafe(disconnected(), loop)
    return lambda: watch.done() and not watch.cancelled() and watch.exception() is None


def _chunks(
    table: Table,
    queryset: QuerySet,
    format: DataImportFormat,
    first: list[tuple[Any, ...]],
    gone: Callable[[], bool],
    request_id: str,
) -> Iterator[bytes]:
    write = row_writer(format, table.columns)
    pending, pending_chars = [header(format, table.columns)], 0
    rows, size, written, started = first, FIRST_BATCH_ROWS, 0, time.monotonic()
    while True:
        batch_chars = 0
        for values in rows:
            line = write(table.row(values))
            pending.append(line)
            pending_chars += len(line)
            batch_chars += len(line)
            if pending_chars >= CHUNK_CHARS:
                yield "".join(pending).encode()
                pending, pending_chars = [], 0
        written += len(rows)
        if len(rows) < size:
            break
        if gone():
            with correlated(request_id):
                logger.info(
                    "Export of %s stopped after %d rows: the client left", table.name, written
                )
            return
        size = max(MIN_BATCH_ROWS, min(MAX_BATCH_ROWS, BATCH_BYTES * len(rows) // batch_chars))
        rows = _batch(table, queryset, table.key(rows[-1]), size)
    yield "".join(pending).encode()
    with correlated(request_id):
        logger.info(
            "Exported %d rows of %s as %s in %.1f s",
            written,
            table.name,
            format,
            time.monotonic() - started,
        )


class _Stream:
    """The export's chunks, and the slot given back when Django closes the answer: at its end,
    or when the server drops a client that left."""

    def __init__(self, chunks: Iterator[bytes], give_back: Callable[[], None]) -> None:
        self._chunks = chunks
        self._give_back = give_back

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        try:
            self._chunks.close()  # type: ignore[attr-defined]  # a generator
        finally:
            self._give_back()


class ExportOptionsSerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=FORMATS,
        default="csv",
        error_messages={"invalid_choice": 'Unknown format "{input}": use csv, tsv or jsonl.'},
        help_text="The file's format: `csv` (the default), `tsv` or `jsonl` (JSON lines).",
    )


def export_responses(what: str) -> dict[Any, Any]:
    """The schema's answers of an export of `what`."""
    return {
        **{
            (200, media_type): OpenApiResponse(
                OpenApiTypes.BINARY, description=f"{what}, as a {format.upper()} file."
            )
            for format, media_type in MEDIA_TYPES.items()
        },
        **error_responses(400, 401),
        503: OpenApiResponse(
            ErrorSerializer,
            description="EXPORT_MAX_CONCURRENT exports are under way in this web process "
            "(Retry-After says when to try again), or the database is unavailable.",
        ),
    }


class ExportView(APIView):
    """GET: the rows of `table` the query's filters select, as a file."""

    table: ClassVar[Table]
    # No HEAD: its answer would be the whole export, read and thrown away.
    http_method_names = ("get", "options")

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # `?format=` names the file's format here; DRF would take it for the answer's
        # renderer and fail with a 404. Errors are JSON.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    def export(self, request: Request, queryset: QuerySet) -> StreamingHttpResponse:
        options = ExportOptionsSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        return export_response(
            self.table, queryset, options.validated_data["format"], request._request
        )


def export_response(
    table: Table, queryset: QuerySet, format: DataImportFormat, request: HttpRequest
) -> StreamingHttpResponse:
    """The rows of `queryset` as a `format` file, streamed in batches, under the limit of
    EXPORT_MAX_CONCURRENT exports at once in this process (ExportsBusy past it). For the API's
    exports (ExportView) and the console's."""
    give_back = slots.take()
    try:
        # Before the answer starts, so that a database error is still an error answer.
        first = _batch(table, queryset, None, FIRST_BATCH_ROWS)
        chunks = _chunks(
            table, queryset, format, first, _client_gone(request.META), request_id_of(request)
        )
        response = StreamingHttpResponse(
            _Stream(chunks, give_back), content_type=f"{MEDIA_TYPES[format]}; charset=utf-8"
        )
    except BaseException:
        give_back()
        raise
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{table.name}-{stamp}.{format}"'
    return response
