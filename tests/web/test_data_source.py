"""Where each data row came from (`source`) and when: set by the way it came, shown by the
data API, and filterable there."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.web.importing import FILES, MEDIA_TYPES, post_raw
from web.data.models import Data, Source

pytestmark = pytest.mark.django_db


def sources() -> list[tuple[str, str]]:
    return list(Data.objects.values_list("text", "source"))


def test_rows_sent_to_the_data_api_come_from_api_whatever_source_they_claim(api_client):
    one = api_client.post("/api/data/", {"text": "one", "label": "a", "source": "review"})
    many = api_client.post("/api/data/", [{"text": "two", "label": "a", "source": "import"}])

    assert (one.json()["source"], many.json()[0]["source"]) == ("api", "api")
    assert sources() == [("one", "api"), ("two", "api")]


def test_rows_of_an_import_come_from_import(api_client, tmp_path):
    response = post_raw(api_client, FILES["csv"], MEDIA_TYPES["csv"])
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "from the command", "label": "ham"}\n')
    call_command("import_data", str(path), stdout=io.StringIO())

    assert response.status_code == 201
    assert {source for _, source in sources()} == {"import"}
    assert len(sources()) == 4
    listed = api_client.get("/api/data/").json()["results"]
    assert {row["source"] for row in listed} == {"import"}


def test_the_list_filters_by_source(api_client):
    api_row = Data.objects.create(text="typed", label="a")
    review_row = Data.objects.create(text="reviewed", label="a", source=Source.REVIEW)
    Data.objects.create(text="told", label="a", source=Source.FEEDBACK)

    by_review = api_client.get("/api/data/?source=review").json()
    by_api = api_client.get("/api/data/?source=api").json()
    unfiltered = api_client.get("/api/data/?source=").json()

    assert [row["id"] for row in by_review["results"]] == [review_row.id]
    assert [row["id"] for row in by_api["results"]] == [api_row.id]
    assert unfiltered["count"] == 3


def test_an_unknown_source_is_a_400_naming_the_sources(api_client):
    response = api_client.get("/api/data/?source=console")

    message = 'Unknown source "console": use api, import, review, feedback.'
    assert response.status_code == 400
    assert response.json() == {
        "message": f"Invalid input: source: {message}",
        "extra": {"fields": {"source": [message]}},
    }


def test_the_list_filters_by_creation_time(api_client):
    old, middle, new = (Data.objects.create(text=text, label="a") for text in "omn")
    start = timezone.now() - datetime.timedelta(days=3)
    for days, row in enumerate((old, middle, new)):
        Data.objects.filter(pk=row.pk).update(created_at=start + datetime.timedelta(days=days))

    def ids(query: str) -> list[int]:
        response = api_client.get("/api/data/", query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    day = datetime.timedelta(days=1)
    assert ids({"since": (start + day).isoformat()}) == [middle.id, new.id]
    assert ids({"until": (start + day).isoformat()}) == [old.id]
    assert ids({"since": start.isoformat(), "until": (start + 2 * day).isoformat()}) == [
        old.id,
        middle.id,
    ]
    assert api_client.get("/api/data/?since=yesterday").status_code == 400
