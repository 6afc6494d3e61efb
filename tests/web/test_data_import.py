"""POST /api/data/import/: each format both ways, all rows or none."""

import json

import pytest
from rest_framework import serializers

from common.datafiles import check_row
from tests.web.importing import (
    CONFIRMATION_TR,
    EXPECTED,
    FILES,
    MEDIA_TYPES,
    ROWS,
    created,
    invalid,
    post_file,
    post_raw,
    rows,
    sms_rows,
)
from web.data.models import Data
from web.data.serializers import DataSerializer

pytestmark = pytest.mark.django_db


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
