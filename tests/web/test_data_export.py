"""GET /api/data/export/: the data the list's filters select, as CSV, TSV or JSON lines that
the import reads back, and at most EXPORT_MAX_CONCURRENT exports at once."""

import csv
import datetime
import io
import json

import pytest
from django.core.signals import request_finished
from django.db import OperationalError, close_old_connections
from django.utils import timezone

from tests.web.importing import post_raw
from web.api import exports
from web.data.models import Data, Source

pytestmark = pytest.mark.django_db

URL = "/api/data/export/"
# Texts each format must carry through: separators, quotes, line breaks of every kind, a
# byte order mark's character, and text no single-byte encoding holds.
TRICKY = [
    ("plain", "ham"),
    ("Kazandınız, hemen arayın", "spam"),
    ('say "hi"\nto them', "ham"),
    ("windows\r\nline, and a lone\rreturn", "ham"),
    ("\ufeffstarts with a BOM 🎉", "spam"),
    ("a\ttab", "label, with a comma"),
]


def body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def drop(response) -> None:
    """Close an answer before its end, as the server does when its client goes away; without
    closing the test's database connection, as the test client does at an answer's end."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def api_row(row: Data) -> dict:
    def iso(value: datetime.datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    return {
        "id": row.id,
        "text": row.text,
        "label": row.label,
        "source": row.source,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def test_csv_export_has_the_columns_and_every_row_in_id_order(api_client):
    first = Data.objects.create(text="Win, now", label="spam")
    second = Data.objects.create(text='say "hi"', label="ham", source=Source.REVIEW)

    response = api_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="data-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(body(response), newline="")))
    assert rows == [
        ["id", "text", "label", "source", "created_at", "updated_at"],
        [str(value) for value in api_row(first).values()],
        [str(value) for value in api_row(second).values()],
    ]


def test_jsonl_export_lines_are_the_list_items(api_client):
    for text, label in TRICKY:
        Data.objects.create(text=text, label=label)

    exported = [
        json.loads(line) for line in body(api_client.get(f"{URL}?format=jsonl")).splitlines()
    ]

    assert exported == api_client.get("/api/data/").json()["results"]


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_an_export_imported_into_an_empty_table_gives_the_same_rows(api_client, format):
    for text, label in TRICKY:
        api_client.post("/api/data/", {"text": text, "label": label})
    before = list(Data.objects.values_list("text", "label"))

    response = api_client.get(f"{URL}?format={format}")
    Data.objects.all().delete()
    imported = post_raw(api_client, body(response).encode(), response["Content-Type"])

    assert imported.status_code == 201, imported.json()
    assert imported.json()["rows_inserted"] == len(TRICKY)
    assert list(Data.objects.values_list("text", "label")) == before


def test_tsv_round_trips_and_writes_a_tab_or_line_break_as_a_space(api_client):
    for text, label in TRICKY:
        api_client.post("/api/data/", {"text": text, "label": label})

    response = api_client.get(f"{URL}?format=tsv")
    Data.objects.all().delete()
    imported = post_raw(api_client, body(response).encode(), response["Content-Type"])

    assert response["Content-Type"] == "text/tab-separated-values; charset=utf-8"
    assert imported.status_code == 201, imported.json()
    assert list(Data.objects.values_list("text", "label")) == [
        ("plain", "ham"),
        ("Kazandınız, hemen arayın", "spam"),
        ('say "hi" to them', "ham"),
        ("windows  line, and a lone return", "ham"),
        ("\ufeffstarts with a BOM 🎉", "spam"),
        ("a tab", "label, with a comma"),
    ]


def test_the_export_takes_the_filters_of_the_list(api_client):
    now = timezone.now()
    rows = [
        Data.objects.create(text="Win a prize", label="spam"),
        Data.objects.create(text="win cash", label="spam", source=Source.REVIEW),
        Data.objects.create(text="lunch?", label="ham", source=Source.REVIEW),
        Data.objects.create(text="old prize", label="spam"),
    ]
    Data.objects.filter(pk=rows[3].pk).update(created_at=now - datetime.timedelta(days=3))
    queries = [
        "label=spam",
        "search=PRIZE",
        "source=review",
        "label=spam&source=review",
        f"since={(now - datetime.timedelta(days=1)).isoformat().replace('+00:00', 'Z')}",
        f"until={(now - datetime.timedelta(days=1)).isoformat().replace('+00:00', 'Z')}",
        "label=",
    ]

    for query in queries:
        listed = [row["id"] for row in api_client.get(f"/api/data/?{query}").json()["results"]]
        exported = [
            json.loads(line)["id"]
            for line in body(api_client.get(f"{URL}?{query}&format=jsonl")).splitlines()
        ]
        assert exported == listed, query
    assert [len(api_client.get(f"/api/data/?{q}").json()["results"]) for q in queries] == [
        3,
        2,
        2,
        1,
        3,
        1,
        4,
    ]


def test_an_export_of_many_batches_has_every_row_once_in_order(api_client, monkeypatch):
    monkeypatch.setattr(exports, "FIRST_BATCH_ROWS", 3)
    monkeypatch.setattr(exports, "MAX_BATCH_ROWS", 4)
    monkeypatch.setattr(exports, "MIN_BATCH_ROWS", 2)
    Data.objects.bulk_create(Data(text=f"text {i}", label="ham") for i in range(23))

    exported = [
        json.loads(line) for line in body(api_client.get(f"{URL}?format=jsonl")).splitlines()
    ]

    assert [row["text"] for row in exported] == [f"text {i}" for i in range(23)]


def test_an_empty_selection_is_a_header_alone(api_client):
    Data.objects.create(text="hello", label="ham")

    assert body(api_client.get(f"{URL}?label=spam")) == (
        "id,text,label,source,created_at,updated_at\r\n"
    )
    assert body(api_client.get(f"{URL}?label=spam&format=tsv")) == (
        "id\ttext\tlabel\tsource\tcreated_at\tupdated_at\n"
    )
    assert body(api_client.get(f"{URL}?label=spam&format=jsonl")) == ""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("format=xml", 'Invalid input: format: Unknown format "xml": use csv, tsv or jsonl.'),
        (
            "source=console",
            'Invalid input: source: Unknown source "console": use api, import, review, feedback.',
        ),
    ],
)
def test_an_unknown_format_or_filter_value_is_a_400(api_client, query, message):
    response = api_client.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.json()["message"] == message


def test_head_is_not_an_export(api_client):
    assert api_client.head(URL).status_code == 405


def test_past_export_max_concurrent_an_export_is_a_503_until_one_ends(api_client, settings):
    settings.EXPORT_MAX_CONCURRENT = 2
    Data.objects.create(text="hello", label="ham")
    held = [api_client.get(URL), api_client.get(URL)]  # answered, not yet read

    refused = api_client.get(URL)
    # A refused export holds no slot, and one read to its end gives its slot back.
    assert body(held[0]).startswith("id,text")
    accepted = api_client.get(URL)

    assert [response.status_code for response in held] == [200, 200]
    assert refused.status_code == 503
    assert refused["Retry-After"] == "10"
    assert refused.json() == {
        "message": "This web process is already running 2 exports, the most it runs at once "
        "(EXPORT_MAX_CONCURRENT): try again in 10 s, or when one of yours has finished.",
        "extra": {"retry_after_seconds": 10, "max_concurrent": 2},
    }
    assert accepted.status_code == 200
    for response in (held[1], accepted):
        drop(response)
    assert exports.slots.in_use == 0


def test_an_export_closed_before_its_end_gives_its_slot_back(api_client, settings):
    settings.EXPORT_MAX_CONCURRENT = 1
    Data.objects.create(text="hello", label="ham")

    drop(api_client.get(URL))
    again = api_client.get(URL)

    assert again.status_code == 200
    drop(again)
    assert exports.slots.in_use == 0


def test_a_refused_export_takes_no_slot(api_client, settings):
    settings.EXPORT_MAX_CONCURRENT = 1

    assert api_client.get(f"{URL}?format=xml").status_code == 400
    accepted = api_client.get(URL)

    assert accepted.status_code == 200
    drop(accepted)


def _failing_batches(monkeypatch, after_calls: int) -> None:
    """Make the export's queries fail, as when the database goes away, after so many."""
    real, calls = exports._batch, []

    def batch(*args):
        calls.append(args)
        if len(calls) > after_calls:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args)

    monkeypatch.setattr(exports, "_batch", batch)


def test_a_database_error_before_the_first_row_is_a_503(api_client, monkeypatch):
    _failing_batches(monkeypatch, after_calls=0)

    response = api_client.get(URL)

    assert (response.status_code, response.json()) == (
        503,
        {"message": "The database is unavailable; try again shortly.", "extra": {}},
    )
    assert exports.slots.in_use == 0


def test_a_database_error_midway_ends_the_export_in_error_not_quietly(api_client, monkeypatch):
    # Under the server an error cuts the connection before the last chunk, so the client
    # sees the download fail rather than end short and look complete.
    monkeypatch.setattr(exports, "FIRST_BATCH_ROWS", 2)
    monkeypatch.setattr(exports, "MIN_BATCH_ROWS", 2)
    Data.objects.bulk_create(Data(text=f"text {i}", label="ham") for i in range(5))
    _failing_batches(monkeypatch, after_calls=1)
    response = api_client.get(URL)

    with pytest.raises(OperationalError):
        b"".join(response.streaming_content)
    assert exports.slots.in_use == 0
