"""The files an export writes: CSV, TSV or JSON lines, one row at a time, in the forms
`POST /api/data/import/` reads back (common/datafiles.py)."""

import csv
import datetime
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from common.datafiles import DataImportFormat

# What the import reads as each format, so a file's Content-Type can be sent back with it.
MEDIA_TYPES: dict[DataImportFormat, str] = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "jsonl": "application/x-ndjson",
}

# TSV has no quoting (the import reads it with none): these cannot be in a value.
_TSV_BREAKS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def _plain(value: Any) -> Any:
    """A value JSON has no type for, as the JSON API writes it."""
    if isinstance(value, datetime.datetime):
        # As the JSON API writes times (in TIME_ZONE, UTC), so that a file and a list agree;
        # DRF's own field would take a third of an export's time finding the time zone.
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"Cannot export a {type(value).__name__}")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)


def _text(value: Any) -> str:
    """One value as a cell of CSV or TSV: nothing for null, JSON for booleans and objects."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict | list):
        return _json(value)
    if isinstance(value, int | float):
        return repr(value)
    return _plain(value)


class _Echo:
    """A file whose write() gives back what it was given: csv.writer then returns each row's
    text instead of storing it."""

    def write(self, text: str) -> str:
        return text


def _csv_writer(columns: Sequence[str]) -> Callable[[Sequence[Any]], str]:
    # Quoted only where needed, CRLF between rows: what csv.reader (the import) reads.
    writer = csv.writer(_Echo())
    return lambda row: writer.writerow([_text(value) for value in row])


def _tsv_writer(columns: Sequence[str]) -> Callable[[Sequence[Any]], str]:
    return lambda row: "\t".join(_text(value).translate(_TSV_BREAKS) for value in row) + "\n"


def _jsonl_writer(columns: Sequence[str]) -> Callable[[Sequence[Any]], str]:
    return lambda row: _json(dict(zip(columns, row, strict=True))) + "\n"


_WRITERS = {"csv": _csv_writer, "tsv": _tsv_writer, "jsonl": _jsonl_writer}


def row_writer(format: DataImportFormat, columns: Sequence[str]) -> Callable[[Sequence[Any]], str]:
    """The function that writes one row (values in the order of `columns`) as a line."""
    return _WRITERS[format](columns)


def header(format: DataImportFormat, columns: Sequence[str]) -> str:
    """The file's first line: the column names (JSON lines have none)."""
    return "" if format == "jsonl" else row_writer(format, columns)(columns)
