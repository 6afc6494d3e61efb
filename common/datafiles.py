"""Data files (CSV, TSV, JSON lines): reading them row by row without holding the file in
memory, and the rules a row must meet. Web's import endpoint and the command line's
``--dataset`` both use them, so a file is read and checked the same way everywhere.

`read_rows` turns a binary stream into `(line, fields)` pairs; `check_row` then says what a
row holds, or what is wrong with it in the JSON API's words.
"""

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import PurePath
from typing import Any, BinaryIO, Literal

from common import limits

DataImportFormat = Literal["csv", "tsv", "jsonl"]
FORMATS: tuple[DataImportFormat, ...] = ("csv", "tsv", "jsonl")

_FORMAT_BY_MEDIA_TYPE: dict[str, DataImportFormat] = {
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
}
MEDIA_TYPES = tuple(_FORMAT_BY_MEDIA_TYPE)
_FORMAT_BY_SUFFIX: dict[str, DataImportFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
COLUMNS = ("text", "label")
# How many row errors an answer lists; the counts cover them all.
MAX_REPORTED_ERRORS = 20

_CHUNK_BYTES = 64 * 1024
# A lone CR (old Mac line ending) ends a line too, as in Python's universal newlines.
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


class DataImportError(Exception):
    """The file as a whole cannot be imported: wrong format, encoding or header."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None  # None when the problem is the row as a whole
    message: str


# `fields` holds what the row names, by column; a column the row lacks is absent.
Row = tuple[int, dict[str, Any] | RowError]


def format_from_name(name: str) -> DataImportFormat | None:
    return _FORMAT_BY_SUFFIX.get(PurePath(name).suffix.lower())


def format_from_media_type(content_type: str) -> DataImportFormat | None:
    """The format a Content-Type names; a charset other than UTF-8 is an error."""
    header = Message()
    header["content-type"] = content_type
    media_type = header.get_content_type()
    charset = str(header.get_param("charset") or "utf-8").lower()
    if charset not in {"utf-8", "utf8"}:
        raise DataImportError(
            f"The request says charset={charset}, but only UTF-8 files can be imported: "
            "convert the file to UTF-8 and send it again."
        )
    return _FORMAT_BY_MEDIA_TYPE.get(media_type)


def read_rows(*, stream: BinaryIO, format: DataImportFormat) -> Iterator[Row]:
    """Every data row of the file in order, numbered by the line it starts on."""
    lines = _numbered_lines(stream)
    if format == "jsonl":
        return _jsonl_rows(lines)
    return _delimited_rows(lines, format)


def _numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """The file's lines decoded from UTF-8, with their newlines, read 64 KiB at a time.

    Lines are decoded one by one, rather than through io.TextIOWrapper, so a byte that is
    not UTF-8 is reported on its own line: a text wrapper decodes ahead in 8 KiB chunks
    and would blame an earlier line.
    """
    buffered = io.BufferedReader(_RawStream(stream), buffer_size=_CHUNK_BYTES)
    number = 0
    while raw := buffered.readline(limits.MAX_LINE_BYTES + 1):
        if len(raw) > limits.MAX_LINE_BYTES:
            raise DataImportError(
                f"Line {number + 1} is longer than {limits.MAX_LINE_BYTES // 2**20} MiB, far more "
                "than any valid row; check that the file and its format are right.",
                line=number + 1,
            )
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataImportError(
                f"Line {number + 1} is not valid UTF-8 (byte 0x{raw[error.start]:02x} at "
                f"position {error.start + 1}): save the file as UTF-8 and try again.",
                line=number + 1,
            ) from error
        if number == 0:
            decoded = decoded.removeprefix("\ufeff")  # the byte order mark Excel writes
        for line in _LONE_CR.split(decoded) if "\r" in decoded[:-2] else (decoded,):
            if line:  # splitting after a final lone CR leaves an empty string
                number += 1
                yield number, line


class _RawStream(io.RawIOBase):
    """Any object with `read(size)` (an upload, a request, a file) as a raw stream."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _jsonl_rows(lines: Iterator[tuple[int, str]]) -> Iterator[Row]:
    for number, line in lines:
        if line.strip():
            yield number, _json_object(number, line)


def _json_object(number: int, line: str) -> dict[str, Any] | RowError:
    try:
        # NaN and Infinity are refused, as by the JSON API's parser.
        value = json.loads(line.rstrip("\r\n"), parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        return RowError(number, None, f"Not valid JSON: {error.msg} at column {error.colno}.")
    except (ValueError, RecursionError) as error:  # huge integers, deep nesting
        return RowError(number, None, f"Not valid JSON: {error}.")
    if not isinstance(value, dict):
        return RowError(
            number,
            None,
            f'Expected a JSON object with "text" and "label", got {_json_kind(value)}.',
        )
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _delimited_rows(lines: Iterator[tuple[int, str]], format: DataImportFormat) -> Iterator[Row]:
    # The TSV convention (and the SMS collection's file) has no quoting: a quote is text.
    if format == "tsv":
        reader = csv.reader((line for _, line in lines), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(line for _, line in lines)
    records = _records(reader, format)
    first = next(records, None)
    if first is None:
        raise DataImportError(
            "The file is empty: expected a header row naming the text and label columns, "
            "then one row per item."
        )
    header_line, header = first
    if isinstance(header, RowError):
        raise DataImportError(f"Line {header_line}: {header.message}", line=header_line)
    positions = _column_positions(header, header_line, format)
    for number, cells in records:
        if isinstance(cells, RowError):
            yield number, cells
        elif len(cells) > len(header):
            yield number, RowError(number, None, _too_many_cells(len(cells), len(header), format))
        else:
            yield number, {name: cells[i] for name, i in positions.items() if i < len(cells)}


def _records(reader: Any, format: DataImportFormat) -> Iterator[tuple[int, list[str] | RowError]]:
    """Non-blank records with the line each starts on; a record can span lines in CSV."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, RowError(start, None, f"Malformed {format.upper()} row: {error}.")
            continue
        if any(cell.strip() for cell in cells):
            yield start, cells


def _column_positions(header: list[str], line: int, format: DataImportFormat) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    for column in COLUMNS:
        if names.count(column) > 1:
            raise DataImportError(
                f'The header row (line {line}) names the "{column}" column more than once.',
                line=line,
            )
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        example = "label\ttext" if format == "tsv" else "text,label"
        found = ", ".join(repr(name) for name in header[:10])
        raise DataImportError(
            f"The header row (line {line}) must name a text and a label column "
            f"(for example {example!r}); it has no {' and no '.join(missing)} column. "
            f"It names: {found[:200]}.",
            line=line,
        )
    return {column: names.index(column) for column in COLUMNS}


def _too_many_cells(cells: int, columns: int, format: DataImportFormat) -> str:
    hint = (
        "a text cannot contain a tab in a TSV file"
        if format == "tsv"
        else "put double quotes around fields that contain commas"
    )
    return f"The row has {cells} fields but the header names {columns}: {hint}."


def _refuse_constant(name: str) -> float:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


_SURROGATE = re.compile("[\ud800-\udfff]")
# A column the row does not have, which is not the same error as a null value.
_MISSING = object()


def check_row(
    fields: Mapping[str, Any], *, labelled: bool = True
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The row's values as the REST API stores them (trimmed), and the messages of each
    field that fails, in the API's words.

    The rules of the JSON API's fields (web.data.serializers.DataSerializer, where a test
    holds both to the same answers): a string, not blank once trimmed, at most so many
    characters once trimmed, and no NUL or surrogate characters.
    """
    max_chars = {"text": limits.MAX_TEXT_CHARS, "label": limits.MAX_LABEL_CHARS}
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name in ("text", "label") if labelled else ("text",):
        messages = _field_errors(fields.get(name, _MISSING), max_chars[name])
        if messages:
            errors[name] = messages
        else:
            values[name] = fields[name].strip()
    return values, errors


def _field_errors(value: Any, max_chars: int) -> list[str]:
    """What is wrong with one text or label value; see check_row."""
    if value is _MISSING:
        return ["This field is required."]
    if isinstance(value, str) and not value.strip():
        return ["This field may not be blank."]
    if value is None:
        return ["This field may not be null."]
    if not isinstance(value, str):
        return ["Not a valid string."]
    value = value.strip()
    errors = []
    if len(value) > max_chars:
        errors.append(f"Ensure this field has no more than {max_chars} characters.")
    if "\x00" in value:
        errors.append("Null characters are not allowed.")
    if surrogate := _SURROGATE.search(value):
        errors.append(f"Surrogate characters are not allowed: U+{ord(surrogate[0]):X}.")
    return errors
