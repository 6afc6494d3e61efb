"""POST /api/data/import/: files that cannot be imported, authentication and size."""

import tracemalloc

import pytest

from tests.web.importing import (
    FILES,
    URL,
    file_error,
    post_file,
    post_raw,
    rows,
    sms_rows,
)
from web.data.models import Data
from web.data.services import data_import

pytestmark = pytest.mark.django_db


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
