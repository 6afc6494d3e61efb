"""The console's Data page in process: the table filtered and paged as the API filters, rows
added, edited and deleted by a writer only, a file imported with the API's parser and its
per-line errors, the filtered rows exported as the API exports them (and under its limit)."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.web.console import browser, console_user, csrf_token, post_form, sign_in, signed_in
from tests.web.importing import post_file
from tests.web.test_data_export import body, drop
from web.api import exports
from web.console.access import importer_of
from web.data.models import Data, Source

pytestmark = pytest.mark.django_db

PAGE = "/console/data/"
IMPORT = "/console/data/import/"
BAD_CSV = "text,label\nwin a prize,spam\nsee you at noon,\nok,ham\n"


def _row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-row="(\d+)"', html)]


def _link(html: str, page: str) -> str:
    found = re.search(rf'<a href="([^"]+)"(?: rel="\w+")? data-page="{page}"', html)
    assert found, f"no {page} link"
    return found.group(1).replace("&amp;", "&")


def test_the_table_pages_newest_first_and_filters_as_the_api_does(api_client):
    rows = Data.objects.bulk_create(
        [Data(text=f"text {i}", label="spam" if i % 2 else "ham") for i in range(130)]
    )
    Data.objects.create(text="Lunch at noon?", label="ham", source=Source.IMPORT)
    spam = sorted((row.pk for row in rows if row.label == "spam"), reverse=True)
    client, _ = signed_in("read")

    first = client.get(PAGE, {"label": "spam"}).content.decode()
    assert _row_ids(first) == spam[:50]
    second = client.get(_link(first, "older")).content.decode()
    assert _row_ids(second) == spam[50:]
    assert 'data-page="older"' not in second
    back = client.get(_link(second, "newer")).content.decode()
    assert _row_ids(back) == spam[:50]

    api = api_client.get("/api/data/", {"source": "import", "search": "NOON"}).json()
    page = client.get(PAGE, {"source": "import", "search": "NOON"}).content.decode()
    assert _row_ids(page) == [row["id"] for row in api["results"]]
    assert (
        client.get(PAGE, {"until": "2000-01-01T00:00"})
        .content.decode()
        .count("No row matches these filters.")
        == 1
    )


def test_a_filter_the_api_refuses_is_a_400_in_its_words():
    client, _ = signed_in("read")
    answer = client.get(PAGE, {"source": "console", "before": "x"})
    assert answer.status_code == 400
    errors = re.findall(r"<li>([^<]+)</li>", answer.content.decode().split("data-filter-errors")[1])
    assert errors[:2] == [
        "before: a row&#x27;s id, a whole number.",
        "source: Unknown source &quot;console&quot;: use api, import, review, feedback.",
    ]


def test_a_writer_adds_edits_and_deletes_a_row_each_delete_confirmed_first():
    client, _ = signed_in("write")
    refused = post_form(client, PAGE, {"text": "hello there", "label": "  "})
    assert refused.status_code == 400
    assert "label: This field may not be blank." in refused.content.decode()
    assert not Data.objects.exists()

    added = post_form(client, PAGE, {"text": "  hello there ", "label": "ham"})
    assert added.status_code == 302
    row = Data.objects.get()
    assert (row.text, row.label, row.source) == ("hello there", "ham", Source.API)

    edit = f"/console/data/{row.pk}/"
    assert post_form(client, edit, {"text": "hello again", "label": "spam"}).status_code == 302
    row.refresh_from_db()
    assert (row.text, row.label) == ("hello again", "spam")

    delete = f"/console/data/{row.pk}/delete/"
    confirm = client.get(delete)
    assert confirm.status_code == 200
    assert f"Delete row {row.pk}?" in confirm.content.decode()
    assert Data.objects.filter(pk=row.pk).exists()
    assert post_form(client, delete, {}).status_code == 302
    assert not Data.objects.exists()
    assert client.get(delete).status_code == 404


def test_a_reader_sees_no_change_control_and_every_change_is_refused():
    row = Data.objects.create(text="keep me", label="ham")
    client, _ = signed_in("read")
    html = client.get(PAGE).content.decode()
    assert re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html) == [
        "/console/sign-out/"
    ]
    assert "/delete/" not in html and f"/console/data/{row.pk}/" not in html
    assert "/console/data/import/" not in html
    token = csrf_token(client, PAGE)
    for path, form in (
        (PAGE, {"text": "new", "label": "ham"}),
        (f"/console/data/{row.pk}/", {"text": "changed", "label": "spam"}),
        (f"/console/data/{row.pk}/delete/", {}),
        (IMPORT, {"file": SimpleUploadedFile("rows.csv", b"text,label\nx,y\n")}),
    ):
        assert client.post(path, {**form, "csrfmiddlewaretoken": token}).status_code == 403
    assert client.get(f"/console/data/{row.pk}/").status_code == 403
    assert list(Data.objects.values_list("text", "label")) == [("keep me", "ham")]


def test_an_import_with_a_bad_line_shows_it_as_the_api_reports_it(api_client):
    api = post_file(api_client, BAD_CSV, "rows.csv").json()
    client, _ = signed_in("write")
    upload = SimpleUploadedFile("rows.csv", BAD_CSV.encode())
    answer = post_form(client, IMPORT, {"file": upload}, form_page=IMPORT)

    assert answer.status_code == 400
    html = answer.content.decode()
    assert api["extra"]["errors"] == [
        {"line": 3, "field": "label", "message": "This field may not be blank."}
    ]
    assert re.findall(
        r'<tr data-line="(\d+)"><td>\d+</td><td>(\w+)</td><td>([^<]+)</td>', html
    ) == [("3", "label", "This field may not be blank.")]
    message = re.search(r"data-import-message>([^<]+)<", html).group(1).replace("&quot;", '"')
    first = "1 of 3 rows are invalid, so nothing was imported. First, line 3, label: This field "
    assert api["message"].startswith(first) and message.startswith(first)
    assert message.endswith(
        'tick "Import the valid rows and skip the invalid ones" to import only the valid rows.'
    )
    assert not Data.objects.exists()

    upload = SimpleUploadedFile("rows.csv", BAD_CSV.encode())
    skipped = post_form(client, IMPORT, {"file": upload, "skip_invalid": "true"}, form_page=IMPORT)
    assert skipped.status_code == 200
    assert "Imported 2 of 3 rows" in skipped.content.decode()
    assert sorted(Data.objects.values_list("text", "source")) == [
        ("ok", "import"),
        ("win a prize", "import"),
    ]


def test_a_file_the_import_cannot_read_says_why():
    client, _ = signed_in("write")
    upload = SimpleUploadedFile("rows.txt", b"text,label\nx,y\n")
    answer = post_form(client, IMPORT, {"file": upload}, form_page=IMPORT)
    assert answer.status_code == 400
    assert "Cannot tell the format of &#x27;rows.txt&#x27; from its name" in answer.content.decode()
    upload = SimpleUploadedFile("rows.txt", b"text,label\nx,y\n")
    answer = post_form(client, IMPORT, {"file": upload, "format": "csv"}, form_page=IMPORT)
    assert answer.status_code == 200
    assert list(Data.objects.values_list("text", "label")) == [("x", "y")]


def test_the_export_streams_the_filtered_rows_as_the_api_does(api_client, settings):
    Data.objects.bulk_create([Data(text=f"t{i}", label=("ham", "spam")[i % 2]) for i in range(9)])
    client, _ = signed_in("read")
    html = client.get(PAGE, {"label": "spam"}).content.decode()
    link = re.search(r'<a href="([^"]+)" data-export="JSON lines"', html).group(1)
    assert link == "/console/data/export/?label=spam&amp;format=jsonl"
    console = client.get(link.replace("&amp;", "&"))
    api = api_client.get("/api/data/export/", {"label": "spam", "format": "jsonl"})
    assert console["Content-Type"] == api["Content-Type"] == "application/x-ndjson; charset=utf-8"
    exported = body(console)
    assert exported == body(api)
    assert [json.loads(line)["text"] for line in exported.splitlines()] == ["t1", "t3", "t5", "t7"]

    settings.EXPORT_MAX_CONCURRENT = 1
    held = client.get("/console/data/export/")
    refused = client.get("/console/data/export/")
    assert refused.status_code == 503
    assert refused["Retry-After"] == "10"
    assert "EXPORT_MAX_CONCURRENT" in refused.content.decode()
    drop(held)
    assert exports.slots.in_use == 0


def test_only_a_writers_session_may_send_an_import_as_large_as_the_apis():
    writer, reader = browser(), browser()
    for client, scope in ((writer, "write"), (reader, "read")):
        assert sign_in(client, console_user(scope)).status_code == 302
    cookie = "textclf_console_session={}; other=1"
    writer_id = importer_of(cookie.format(writer.cookies["textclf_console_session"].value))
    assert writer_id is not None
    assert importer_of(cookie.format(reader.cookies["textclf_console_session"].value)) is None
    assert importer_of(cookie.format("not-a-session")) is None
    assert importer_of("") is None
