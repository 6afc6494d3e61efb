"""A data file imported the same way wherever it is sent: POST /api/data/import/ and the
console's import page take the same options and the same size limit, read the file with the
same parser (services.data_import, common/datafiles.py) under the same statement bound, and
sum up invalid rows in the same words."""

from collections.abc import Mapping
from typing import Any, BinaryIO

from django.conf import settings
from django.db import OperationalError
from psycopg2.errors import QueryCanceled
from rest_framework import exceptions, status

from common.datafiles import DataImportError, DataImportFormat, format_from_name
from web.api.exceptions import QueryTimedOut, statement_timed_out
from web.data.serializers import DataImportOptionsSerializer
from web.data.services import DataImportInvalid, DataImportReport, data_import


class DataImportTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The file is too large: imports are limited to {limit} bytes "
            f"({limit / 2**20:g} MiB). Split it into smaller files, or import it on the "
            "server with `python -m web.manage import_data PATH`."
        )


def check_import_size(content_length: str | None) -> None:
    """DataImportTooLarge for a body declared larger than DATA_IMPORT_MAX_BYTES: checked before
    a multipart upload is spooled to disk."""
    try:
        length = int(content_length or 0)
    except ValueError:
        length = 0
    if length > settings.DATA_IMPORT_MAX_BYTES:
        raise DataImportTooLarge(settings.DATA_IMPORT_MAX_BYTES)


def import_options(
    options: Mapping[str, Any], guessed: DataImportFormat | None, unknown: str
) -> tuple[DataImportFormat, bool]:
    """The format (`format`, else `guessed`, else DataImportError(`unknown`)) and skip_invalid
    of an import's options; a ValidationError for an invalid option."""
    serializer = DataImportOptionsSerializer(data=options)
    serializer.is_valid(raise_exception=True)
    format = serializer.validated_data.get("format") or guessed
    if format is None:
        raise DataImportError(unknown)
    return format, serializer.validated_data["skip_invalid"]


def uploaded_file(
    files: Mapping[str, Any], options: Mapping[str, Any]
) -> tuple[BinaryIO, DataImportFormat, bool]:
    """The file of a multipart form (its field `file`), its format (an option, or the file
    name's extension) and skip_invalid."""
    upload = files.get("file")
    if upload is None:
        raise DataImportError(
            'The form has no file in the field "file": send the file as that field '
            "(curl -F file=@data.csv)."
        )
    format, skip_invalid = import_options(
        options,
        format_from_name(upload.name or ""),
        f"Cannot tell the format of {upload.name!r} from its name: name it .csv, .tsv or "
        ".jsonl, or pass format=csv, tsv or jsonl.",
    )
    return upload, format, skip_invalid


def import_file(
    *, stream: BinaryIO, format: DataImportFormat, skip_invalid: bool
) -> DataImportReport:
    """services.data_import under DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS; past it, QueryTimedOut
    (nothing imported). DataImportError and DataImportInvalid as data_import raises them."""
    try:
        return data_import(
            stream=stream,
            format=format,
            skip_invalid=skip_invalid,
            statement_timeout_seconds=settings.DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS,
        )
    except (OperationalError, QueryCanceled) as error:
        if statement_timed_out(error):
            raise QueryTimedOut(
                settings.DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS,
                "DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS",
                "nothing was imported; import the file in smaller parts",
            ) from error
        raise


def invalid_summary(error: DataImportInvalid, *, skip_invalid: str) -> str:
    """The sentence that sums up invalid rows: how many, the first one's line and problem, and
    what to do (`skip_invalid` names the option that imports the valid rows alone)."""
    first = error.report.errors[0]
    where = f"line {first.line}" + (f", {first.field}" if first.field else "")
    advice = "Fix the file" + (
        "." if error.none_valid else f", or {skip_invalid} to import only the valid rows."
    )
    return f"{error}, so nothing was imported. First, {where}: {first.message} {advice}"
