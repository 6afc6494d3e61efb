"""POST /api/data/import/ and the import_data command: files in, all rows or none."""

import json
import os
import subprocess
import sys
import tracemalloc
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework import serializers

from common.datafiles import check_row
from web.data.models import Data
from web.data.serializers import DataSerializer
from web.data.services import data_import

pytestmark = pytest.mark.django_db

URL = "/api/data/import/"
REPO = Path(__file__).resolve().parents[2]
SMS_SPAM = REPO / "tests" / "data" / "sms_spam.tsv"
CONFIRMATION_TR = REPO / "tests" / "data" / "confirmation_tr.tsv"

# The same three rows in each format; the CSV's text needs quoting (comma, quote, newline).
ROWS = [("Kazandınız, hemen arayın", "spam"), ('say "hi"\nto them', "ham"), ("ok", "ham")]
FILES = {
    "csv": (
        "id,label,text,source\n"
        '1,spam,"Kazandınız, hemen arayın",sms\n'
        '2,ham,"say ""hi""\nto them",sms\n'
        "3,ham,ok,sms\n"
    ),
    "tsv": 'label\ttext\nspam\tKazandınız, hemen arayın\nham\tsay "hi"\\nto them\nham\tok\n',
    "jsonl": "".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in ROWS),
}
# A TSV cannot hold a newline; its second row keeps the two characters backslash and n.
EXPECTED = {
    "csv": ROWS,
    "tsv": [ROWS[0], ('say "hi"\\nto them', "ham"), ROWS[2]],
    "jsonl": ROWS,
}
MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "jsonl": "application/x-ndjson",
}


def rows() -> list[tuple[str, str]]:
    return list(Data.objects.values_list("text", "label"))


def post_raw(client, content: str | bytes, media_type: str, query: str = ""):
    body = content.encode() if isinstance(content, str) else content
    return client.post(URL + query, body, content_type=media_type)


def post_file(client, content: str | bytes, name: str, query: str = "", **fields):
    body = content.encode() if isinstance(content, str) else content
    return client.post(
        URL + query, {"file": SimpleUploadedFile(name, body), **fields}, format="multipart"
    )


def created(count: int, skipped: int = 0, errors: list | None = None) -> dict:
    return {
        "rows_read": count + skipped,
        "rows_inserted": count,
        "rows_skipped": skipped,
        "errors": errors or [],
    }


def invalid(message: str, errors: list, rows_read: int, rows_invalid: int) -> dict:
    return {
        "message": message,
        "extra": {"errors": errors, "rows_read": rows_read, "rows_invalid": rows_invalid},
    }


def file_error(message: str, **extra) -> dict:
    return {"message": message, "extra": extra}


# Each format, both ways.


@pytest.mark.parametrize("format", ["csv", "tsv", "jsonl"])
def test_raw_body_of_each_format_imports_every_row(api_client, format):
    response = post_raw(api_client, FILES[format], MEDIA_TYPES[format])

    assert response.status_code == 201
    assert response.json() == created(3)
    assert rows() == EXPECTED[format]


@pytest.mark.parametrize("format", ["csv", "tsv", "jsonl"])
def test_multipart_file_of_each_format_imports_every_row_by_its_extension(api_client, format):
    response = post_file(api_client, FILES[format], f"export.{format}")

    assert response.status_code == 201
    assert response.json() == created(3)
    assert rows() == EXPECTED[format]


def test_application_jsonl_and_ndjson_extension_are_json_lines(api_client):
    assert post_raw(api_client, FILES["jsonl"], "application/jsonl").status_code == 201
    assert post_file(api_client, FILES["jsonl"], "export.NDJSON").status_code == 201

    assert rows() == ROWS * 2


def test_multipart_format_field_or_query_parameter_overrides_the_extension(api_client):
    by_field = post_file(api_client, FILES["tsv"], "export.txt", format="tsv")
    by_query = post_file(api_client, FILES["csv"], "export.tsv", query="?format=csv")

    assert (by_field.status_code, by_query.status_code) == (201, 201)
    assert rows() == EXPECTED["tsv"] + EXPECTED["csv"]


def test_raw_body_format_query_parameter_overrides_the_content_type(api_client):
    response = post_raw(api_client, FILES["csv"], "application/octet-stream", "?format=csv")

    assert response.status_code == 201
    assert rows() == EXPECTED["csv"]


def test_utf8_charset_and_byte_order_mark_are_accepted(api_client):
    body = "\ufefftext,label\nmerhaba,selam\n".encode()

    response = post_raw(api_client, body, "text/csv; charset=UTF-8")

    assert response.status_code == 201
    assert rows() == [("merhaba", "selam")]


def test_turkish_file_round_trips_unchanged(api_client):
    lines = CONFIRMATION_TR.read_text(encoding="utf-8").splitlines()[1:]

    response = post_file(api_client, CONFIRMATION_TR.read_bytes(), "confirmation_tr.tsv")

    assert response.status_code == 201
    assert rows() == [tuple(reversed(line.split("\t"))) for line in lines]
    assert ("hayır", "Confirmation_No") in rows()
    assert ("onaylandı", "Confirmation_Yes") in rows()
    listed = api_client.get("/api/data/", {"search": "ONAYLANDI"}).json()["results"]
    assert [item["text"] for item in listed] == ["onaylandı"]


def test_rows_follow_the_json_api_rules_trimming_whitespace(api_client):
    response = post_raw(api_client, 'text,label\n"  padded  ", spam \n', "text/csv")

    assert response.status_code == 201
    assert rows() == [("padded", "spam")]


def test_text_with_backslashes_tabs_and_newlines_is_stored_as_is(api_client):
    text = "C:\\new\\table\tcolumn\r\nnext \\N line"
    body = json.dumps({"text": text, "label": "ham"}) + "\n"

    assert post_raw(api_client, body, "application/x-ndjson").status_code == 201

    assert rows() == [(text, "ham")]


def test_blank_lines_are_ignored_and_errors_name_the_line_a_row_starts_on(api_client):
    body = 'text,label\n\n"two\nlines",ham\n\nthird,\n'

    response = post_raw(api_client, body, "text/csv")

    error = {"line": 6, "field": "label", "message": "This field may not be blank."}
    assert response.status_code == 400
    assert response.json()["extra"] == {"errors": [error], "rows_read": 2, "rows_invalid": 1}


def test_old_mac_line_endings_are_lines(api_client):
    response = post_raw(api_client, "text,label\rone,a\rtwo,b\r", "text/csv")

    assert response.status_code == 201
    assert rows() == [("one", "a"), ("two", "b")]


# All or nothing, or skip_invalid.


def sms_rows(count: int) -> list[str]:
    return [f"ham\tmessage {i}" for i in range(count)]


def test_one_bad_row_in_the_middle_inserts_nothing_and_names_its_line(api_client):
    Data.objects.create(text="already there", label="ham")
    lines = ["label\ttext", *sms_rows(2500)]
    lines[1500] = "\tmessage without a label"  # line 1501, after the first COPY chunks

    response = post_raw(api_client, "\n".join(lines) + "\n", "text/tab-separated-values")

    assert response.status_code == 400
    assert response.json() == invalid(
        "1 of 2500 rows are invalid, so nothing was imported. First, line 1501, label: This "
        "field may not be blank. Fix the file, or pass skip_invalid=true to import only the "
        "valid rows.",
        [{"line": 1501, "field": "label", "message": "This field may not be blank."}],
        rows_read=2500,
        rows_invalid=1,
    )
    assert rows() == [("already there", "ham")]


def test_every_bad_field_of_a_row_is_reported(api_client):
    body = '{"text": 5, "label": ""}\n'

    response = post_raw(api_client, body, "application/x-ndjson")

    assert response.json()["extra"]["errors"] == [
        {"line": 1, "field": "text", "message": "Not a valid string."},
        {"line": 1, "field": "label", "message": "This field may not be blank."},
    ]


def test_invalid_rows_report_counts_them_all_and_lists_the_first_20(api_client):
    lines = ["label\ttext"] + [f"{'x' * 101}\tt{i}" if i % 2 else f"ham\tt{i}" for i in range(60)]

    response = post_raw(api_client, "\n".join(lines), "text/tab-separated-values")

    extra = response.json()["extra"]
    assert (response.status_code, extra["rows_read"], extra["rows_invalid"]) == (400, 60, 30)
    assert [error["line"] for error in extra["errors"]] == list(range(3, 43, 2))
    assert {error["message"] for error in extra["errors"]} == {
        "Ensure this field has no more than 100 characters."
    }
    assert Data.objects.count() == 0


def test_skip_invalid_inserts_the_valid_rows_and_reports_the_skipped(api_client):
    body = (
        '{"text": "first", "label": "ham"}\n'
        '{"text": "", "label": "ham"}\n'
        "not json\n"
        '["text", "label"]\n'
        '{"text": "last", "label": "spam", "source": "ignored"}\n'
    )

    response = post_raw(api_client, body, "application/x-ndjson", "?skip_invalid=true")

    assert response.status_code == 201
    assert response.json() == created(
        2,
        skipped=3,
        errors=[
            {"line": 2, "field": "text", "message": "This field may not be blank."},
            {"line": 3, "field": None, "message": "Not valid JSON: Expecting value at column 1."},
            {
                "line": 4,
                "field": None,
                "message": 'Expected a JSON object with "text" and "label", got an array.',
            },
        ],
    )
    assert rows() == [("first", "ham"), ("last", "spam")]


def test_skip_invalid_as_a_form_field(api_client):
    response = post_file(api_client, "text,label\na,\nb,ham\n", "x.csv", skip_invalid="true")

    assert response.status_code == 201
    assert rows() == [("b", "ham")]


def test_skip_invalid_with_no_valid_row_is_400(api_client):
    response = post_raw(api_client, "text,label\na,\n", "text/csv", "?skip_invalid=true")

    assert response.status_code == 400
    assert response.json() == invalid(
        "No row is valid (1 read), so nothing was imported. First, line 2, label: This field "
        "may not be blank. Fix the file.",
        [{"line": 2, "field": "label", "message": "This field may not be blank."}],
        rows_read=1,
        rows_invalid=1,
    )


def test_skip_invalid_that_is_not_a_boolean_is_400(api_client):
    response = post_raw(api_client, FILES["csv"], "text/csv", "?skip_invalid=maybe")

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: skip_invalid: Must be a valid boolean.",
        "extra": {"fields": {"skip_invalid": ["Must be a valid boolean."]}},
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"text": "a\x00b", "label": "l"}, "Null characters are not allowed."),
        ({"text": "\ud800", "label": "l"}, "Surrogate characters are not allowed: U+D800."),
        ({"text": "t", "label": None}, "This field may not be null."),
        ({"text": "t", "label": True}, "Not a valid string."),
        (
            {"text": "x" * 20_001, "label": "l"},
            "Ensure this field has no more than 20000 characters.",
        ),
        ({"label": "l"}, "This field is required."),
    ],
    ids=["nul", "surrogate", "null", "bool", "too-long", "missing"],
)
def test_json_line_rows_get_the_json_api_messages(api_client, row, message):
    response = post_raw(api_client, json.dumps(row) + "\n", "application/x-ndjson")

    assert response.status_code == 400
    [error] = response.json()["extra"]["errors"]
    assert error["message"] == message
    assert error == serializer_error(row)


def serializer_error(row: dict) -> dict:
    serializer = DataSerializer(data=row)
    assert not serializer.is_valid()
    [(field, [message])] = serializer.errors.items()
    return {"line": 1, "field": field, "message": message}


@pytest.mark.parametrize(
    "row",
    [
        {"text": " ok ", "label": "l"},
        {"text": "  See you at lunch  ", "label": " ham "},
        {"text": "", "label": 1},
        {},
        {"text": None, "label": 5},
        {"text": " \t ", "label": ""},
        {"text": True, "label": ["spam"]},
        {"text": ["a"], "label": "ğ" * 101},
        {"text": "x" * 20_000 + "  ", "label": "l" * 100},
        {"text": "x" * 20_001, "label": "l" * 101},
        {"text": "a\x00b", "label": "\ud83d"},
    ],
)
def test_file_rows_are_checked_by_the_rules_and_messages_of_the_json_api(row):
    # Imports and the command line check rows with common.datafiles.check_row; the JSON API
    # with DataSerializer. A rule added to the serializer alone fails this.
    assert DataSerializer.validate is serializers.Serializer.validate
    assert not {f"validate_{name}" for name in DataSerializer().fields} & set(dir(DataSerializer))
    values, errors = check_row(row)
    serializer = DataSerializer(data=row)
    assert serializer.is_valid() == (not errors)
    assert errors == {name: [str(m) for m in ms] for name, ms in serializer.errors.items()}
    if not errors:
        assert values == dict(serializer.validated_data)


# Files that cannot be imported at all: 400, nothing stored.


@pytest.mark.parametrize(
    ("body", "media_type", "message"),
    [
        (
            b"",
            "text/csv",
            "The file is empty: expected a header row naming the text and label columns, then "
            "one row per item.",
        ),
        (b"\n\n", "text/tab-separated-values", None),
        (b"text,label\n\n", "text/csv", "The file has no data rows: there is nothing to import."),
        (b"", "application/x-ndjson", "The file has no data rows: there is nothing to import."),
        (b"\n \n", "application/jsonl", "The file has no data rows: there is nothing to import."),
    ],
    ids=["empty-csv", "blank-tsv", "header-only", "empty-jsonl", "blank-jsonl"],
)
def test_file_without_data_rows_is_400(api_client, body, media_type, message):
    response = post_raw(api_client, body, media_type)

    assert response.status_code == 400
    if message:
        assert response.json() == file_error(message)
    assert response.json()["message"].startswith("The file")


def test_header_without_label_column_is_400(api_client):
    response = post_raw(api_client, "ham\tGo until jurong point\n", "text/tab-separated-values")

    assert response.status_code == 400
    assert response.json() == file_error(
        "The header row (line 1) must name a text and a label column (for example "
        "'label\\ttext'); it has no text and no label column. It names: 'ham', "
        "'Go until jurong point'.",
        line=1,
    )


def test_header_naming_a_column_twice_is_400(api_client):
    response = post_raw(api_client, "\ntext,label,Text\na,b,c\n", "text/csv")

    assert response.status_code == 400
    assert response.json() == file_error(
        'The header row (line 2) names the "text" column more than once.', line=2
    )


def test_header_names_ignore_case_and_surrounding_spaces(api_client):
    response = post_raw(api_client, " Label ,TEXT\nham,hello\n", "text/csv")

    assert response.status_code == 201
    assert rows() == [("hello", "ham")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,b,c\n", "put double quotes around fields that contain commas"),
        ("a\n", None),
    ],
)
def test_csv_row_with_more_fields_than_the_header_is_invalid(api_client, body, message):
    response = post_raw(api_client, "text,label\n" + body, "text/csv")

    assert response.status_code == 400
    [error] = response.json()["extra"]["errors"]
    if message:
        assert error == {
            "line": 2,
            "field": None,
            "message": f"The row has 3 fields but the header names 2: {message}.",
        }
    else:  # a short row lacks its label
        assert error == {"line": 2, "field": "label", "message": "This field is required."}


def test_tsv_text_with_a_tab_is_invalid(api_client):
    response = post_raw(api_client, "label\ttext\nham\ta\tb\n", "text/tab-separated-values")

    assert response.json()["extra"]["errors"] == [
        {
            "line": 2,
            "field": None,
            "message": "The row has 3 fields but the header names 2: a text cannot contain a "
            "tab in a TSV file.",
        }
    ]


def test_non_utf8_file_is_400_naming_the_line(api_client):
    body = "text,label\ncafé,ham\n".encode() + "naïve,ham\n".encode("latin-1")

    response = post_raw(api_client, body, "text/csv")

    assert response.status_code == 400
    assert response.json() == file_error(
        "Line 3 is not valid UTF-8 (byte 0xef at position 3): save the file as UTF-8 and try "
        "again.",
        line=3,
    )
    assert Data.objects.count() == 0


def test_non_utf8_byte_after_thousands_of_rows_inserts_nothing(api_client):
    body = ("label\ttext\n" + "\n".join(sms_rows(5000)) + "\n").encode() + b"ham\t\xff\n"

    response = post_raw(api_client, body, "text/tab-separated-values")

    assert response.status_code == 400
    assert response.json()["extra"] == {"line": 5002}
    assert Data.objects.count() == 0


def test_non_utf8_file_with_skip_invalid_is_still_400(api_client):
    response = post_raw(api_client, b"text,label\n\xe7ok,ham\n", "text/csv", "?skip_invalid=true")

    assert response.status_code == 400
    assert Data.objects.count() == 0


def test_declared_charset_other_than_utf8_is_400(api_client):
    response = post_raw(api_client, FILES["csv"], "text/csv; charset=ISO-8859-9")

    assert response.status_code == 400
    assert response.json() == file_error(
        "The request says charset=iso-8859-9, but only UTF-8 files can be imported: convert "
        "the file to UTF-8 and send it again."
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "t", "label": "l"', "Not valid JSON: Expecting ',' delimiter at column 27."),
        (
            "{'text': 't'}",
            "Not valid JSON: Expecting property name enclosed in double quotes at column 2.",
        ),
        (
            '{"text": "t", "label": "l", "score": NaN}',
            "Not valid JSON: Out of range float values are not JSON compliant: 'NaN'.",
        ),
        (
            "[" * 100_000,
            "Not valid JSON: maximum recursion depth exceeded while decoding a "
            "JSON array from a unicode string.",
        ),
        ('"just a string"', 'Expected a JSON object with "text" and "label", got a string.'),
        ("null", 'Expected a JSON object with "text" and "label", got null.'),
    ],
    ids=["unterminated", "single-quotes", "nan", "deep-nesting", "string", "null"],
)
def test_malformed_json_line_is_400_naming_the_line(api_client, line, message):
    body = '{"text": "fine", "label": "ham"}\n' + line + "\n"

    response = post_raw(api_client, body, "application/x-ndjson")

    assert response.status_code == 400
    assert response.json()["extra"]["errors"] == [{"line": 2, "field": None, "message": message}]
    assert response.json()["message"].startswith(
        f"1 of 2 rows are invalid, so nothing was imported. First, line 2: {message}"
    )
    assert Data.objects.count() == 0


def test_line_over_1_mib_is_400(api_client):
    body = "text,label\n" + "x" * (1024 * 1024 + 1) + ",ham\n"

    response = post_raw(api_client, body, "text/csv")

    assert response.status_code == 400
    assert response.json() == file_error(
        "Line 2 is longer than 1 MiB, far more than any valid row; check that the file and "
        "its format are right.",
        line=2,
    )


def test_unknown_raw_content_type_is_400(api_client):
    response = post_raw(api_client, b'{"text": "t"}', "application/json")

    assert response.status_code == 400
    assert response.json() == file_error(
        "Cannot import a body of type 'application/json': send it with Content-Type "
        "text/csv, text/tab-separated-values, application/x-ndjson, application/jsonl, or as "
        'the field "file" of a multipart form.'
    )


def test_request_without_a_body_is_400(api_client):
    response = api_client.post(URL)

    assert response.status_code == 400
    assert response.json()["message"].startswith("Cannot import a body of type '(none)'")


def test_unknown_file_extension_is_400(api_client):
    response = post_file(api_client, FILES["csv"], "export.xlsx")

    assert response.status_code == 400
    assert response.json() == file_error(
        "Cannot tell the format of 'export.xlsx' from its name: name it .csv, .tsv or .jsonl, "
        "or pass format=csv, tsv or jsonl."
    )


def test_unknown_format_parameter_is_400(api_client):
    response = post_file(api_client, FILES["csv"], "export.csv", query="?format=xml")

    assert response.status_code == 400
    assert response.json() == {
        "message": 'Invalid input: format: Unknown format "xml": use csv, tsv or jsonl.',
        "extra": {"fields": {"format": ['Unknown format "xml": use csv, tsv or jsonl.']}},
    }


def test_multipart_form_without_a_file_is_400(api_client):
    response = api_client.post(URL, {"file": "text,label"}, format="multipart")

    assert response.status_code == 400
    assert response.json() == file_error(
        'The form has no file in the field "file": send the file as that field '
        "(curl -F file=@data.csv)."
    )


# Authentication and size.


def test_import_requires_a_token(anonymous_client):
    response = post_raw(anonymous_client, FILES["csv"], "text/csv")

    assert response.status_code == 401
    assert response.json() == file_error("Authentication credentials were not provided.")
    assert Data.objects.count() == 0


def test_body_over_the_import_limit_is_413(api_client, settings):
    settings.DATA_IMPORT_MAX_BYTES = 64
    body = "text,label\n" + "a,b\n" * 14  # 67 bytes

    raw = post_raw(api_client, body, "text/csv")
    multipart = post_file(api_client, body, "x.csv")

    assert (raw.status_code, multipart.status_code) == (413, 413)
    assert raw.json() == file_error(
        "The file is too large: imports are limited to 64 bytes (6.10352e-05 MiB). Split it "
        "into smaller files, or import it on the server with `python -m web.manage "
        "import_data PATH`."
    )
    assert Data.objects.count() == 0


def test_body_at_the_import_limit_is_imported(api_client, settings):
    body = "text,label\n" + "a,b\n" * 13
    settings.DATA_IMPORT_MAX_BYTES = len(body)

    assert post_raw(api_client, body, "text/csv").status_code == 201


def test_default_import_limit_is_64_mib_and_the_413_says_so(api_client):
    response = api_client.post(
        URL, b"", content_type="text/csv", CONTENT_LENGTH=str(64 * 1024 * 1024 + 1)
    )

    assert response.status_code == 413
    assert response.json()["message"].startswith(
        "The file is too large: imports are limited to 67108864 bytes (64 MiB)."
    )


@pytest.mark.parametrize("multipart", [False, True], ids=["raw", "multipart"])
def test_files_over_the_4_mib_json_limit_are_imported(api_client, multipart):
    body = "label\ttext\n" + "".join(f"ham\t{i}{'x' * 10_000}\n" for i in range(500))
    assert len(body) > 4 * 1024 * 1024

    if multipart:
        response = post_file(api_client, body, "big.tsv")
    else:
        response = post_raw(api_client, body, "text/tab-separated-values")

    assert response.status_code == 201
    assert Data.objects.count() == 500


class GeneratedTsv:
    """A TSV file of `rows` rows of 10,000 characters, made as it is read."""

    def __init__(self, rows: int) -> None:
        self._lines = (f"ham\t{i:05d}{'x' * 9_995}\n".encode() for i in range(rows))
        self._pending = b"label\ttext\n"

    def read(self, size: int = -1) -> bytes:
        while len(self._pending) < size and (line := next(self._lines, None)):
            self._pending += line
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def test_import_streams_the_file_instead_of_holding_it_in_memory():
    tracemalloc.start()
    try:
        report = data_import(stream=GeneratedTsv(1_000), format="tsv", statement_timeout_seconds=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (report.rows_read, report.rows_inserted) == (1_000, 1_000)
    assert peak < 4 * 1024 * 1024  # for a 10 MB file
    assert Data.objects.count() == 1_000


# The real SMS Spam Collection.


def test_sms_spam_collection_imports_all_5574_rows(api_client):
    response = post_raw(api_client, SMS_SPAM.read_bytes(), "text/tab-separated-values")

    assert response.status_code == 201
    assert response.json() == created(5574)
    assert Counter(Data.objects.values_list("label", flat=True)) == {"ham": 4827, "spam": 747}
    first = Data.objects.first()
    assert (first.label, first.text[:22]) == ("ham", "Go until jurong point,")


# The import_data command.


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_imports_sms_spam_collection():
    out, err = run_command(str(SMS_SPAM))

    assert out == f"Read 5574 rows from {SMS_SPAM}: inserted 5574, skipped 0.\n"
    assert err == ""
    assert Counter(Data.objects.values_list("label", flat=True)) == {"ham": 4827, "spam": 747}


def test_command_with_format_and_skip_invalid(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text(FILES["jsonl"] + '{"text": "no label"}\n', encoding="utf-8")

    out, err = run_command(str(path), "--format", "jsonl", "--skip-invalid")

    assert out == f"Read 4 rows from {path}: inserted 3, skipped 1.\n"
    assert err == "line 4, label: This field is required.\n"
    assert rows() == ROWS


def test_command_with_an_invalid_row_fails_and_inserts_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\na,ham\nb,\n", encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        run_command(str(path))

    assert str(raised.value) == (
        f"{path}: 1 of 2 rows are invalid, so nothing was imported. Fix them, or pass "
        "--skip-invalid."
    )
    assert Data.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "data.xlsx",
            "",
            "Cannot tell the format of 'data.xlsx' from its name: pass --format csv, tsv or jsonl.",
        ),
        ("data.csv", None, "Cannot read {path}: No such file or directory."),
        (
            "data.csv",
            "a,b\n",
            "{path}: The header row (line 1) must name a text and a label "
            "column (for example 'text,label'); it has no text and no label column. It names: "
            "'a', 'b'. Nothing was imported.",
        ),
    ],
    ids=["unknown-extension", "missing-file", "bad-header"],
)
def test_command_failures_say_why(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        run_command(str(path))

    assert str(raised.value) == message.format(path=path)


def test_command_exits_non_zero_on_failure(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "t", "label": ""}\n', encoding="utf-8")
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "LOG_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "-m", "web.manage", "import_data", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "line 1, label: This field may not be blank.",
        f"CommandError: {path}: No row is valid (1 read), so nothing was imported.",
    ]


# OpenAPI.


def test_schema_documents_the_import(anonymous_client):
    schema = anonymous_client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    ).json()
    operation = schema["paths"]["/api/data/import/"]["post"]

    assert set(operation["requestBody"]["content"]) == {
        "multipart/form-data",
        "text/csv",
        "text/tab-separated-values",
        "application/x-ndjson",
        "application/jsonl",
    }
    assert operation["requestBody"]["content"]["text/csv"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    upload = schema["components"]["schemas"]["DataImportUpload"]
    assert upload["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "The CSV, TSV or JSON-lines file.",
    }
    assert {p["name"] for p in operation["parameters"]} == {"format", "skip_invalid"}
    assert set(operation["responses"]) == {"201", "400", "401", "403", "413", "429"}
    result = schema["components"]["schemas"]["DataImportResult"]
    assert set(result["properties"]) == {"rows_read", "rows_inserted", "rows_skipped", "errors"}
    error_extra = schema["components"]["schemas"]["DataImportErrorExtra"]
    assert {"errors", "rows_read", "rows_invalid"} <= set(error_extra["properties"])
