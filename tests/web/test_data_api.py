"""/api/data/: create, read, update, delete, list with paging and filters."""

from unittest.mock import ANY

import pytest
from django.db import connection

from web.data.models import Data

pytestmark = pytest.mark.django_db


def body(data: Data) -> dict:
    return {
        "id": data.id,
        "text": data.text,
        "label": data.label,
        "source": "api",
        "created_at": ANY,
        "updated_at": ANY,
    }


def make(*pairs: tuple[str, str]) -> list[Data]:
    return [Data.objects.create(text=text, label=label) for text, label in pairs]


def test_create_one_returns_201_with_the_created_item(api_client):
    response = api_client.post("/api/data/", {"text": "great film", "label": "positive"})

    assert response.status_code == 201
    created = Data.objects.get()
    assert response.json() == body(created)
    assert (created.text, created.label) == ("great film", "positive")


def test_create_sets_iso_timestamps(api_client):
    response = api_client.post("/api/data/", {"text": "t", "label": "l"})

    created = Data.objects.get()
    assert response.json()["created_at"] == created.created_at.isoformat().replace("+00:00", "Z")
    assert response.json()["updated_at"] == created.updated_at.isoformat().replace("+00:00", "Z")


def test_create_ignores_read_only_fields(api_client):
    response = api_client.post(
        "/api/data/", {"id": 999_999, "text": "t", "label": "l", "created_at": "2000-01-01"}
    )

    assert response.status_code == 201
    created = Data.objects.get()
    assert created.id != 999_999
    assert created.created_at.year != 2000


def test_retrieve_returns_the_item(api_client):
    (item,) = make(("some text", "neutral"))

    response = api_client.get(f"/api/data/{item.id}/")

    assert response.status_code == 200
    assert response.json() == body(item)


def test_retrieve_unknown_id_returns_404(api_client):
    response = api_client.get("/api/data/424242/")

    assert response.status_code == 404
    assert response.json() == {"message": "No Data matches the given query.", "extra": {}}


def test_put_replaces_text_and_label_and_bumps_updated_at(api_client):
    (item,) = make(("old", "a"))

    response = api_client.put(f"/api/data/{item.id}/", {"text": "new", "label": "b"})

    assert response.status_code == 200
    item_after = Data.objects.get(id=item.id)
    assert (item_after.text, item_after.label) == ("new", "b")
    assert item_after.updated_at > item.updated_at
    assert item_after.created_at == item.created_at
    assert response.json() == body(item_after)


def test_put_without_label_returns_400(api_client):
    (item,) = make(("old", "a"))

    response = api_client.put(f"/api/data/{item.id}/", {"text": "new"})

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: label: This field is required.",
        "extra": {"fields": {"label": ["This field is required."]}},
    }
    assert Data.objects.get(id=item.id).text == "old"


def test_patch_changes_only_the_given_field(api_client):
    (item,) = make(("keep me", "a"))

    response = api_client.patch(f"/api/data/{item.id}/", {"label": "b"})

    assert response.status_code == 200
    assert response.json() | {"updated_at": ANY} == body(item) | {"label": "b"}
    assert Data.objects.get(id=item.id).text == "keep me"


def test_patch_with_empty_body_changes_nothing(api_client):
    (item,) = make(("t", "a"))

    response = api_client.patch(f"/api/data/{item.id}/", {})

    assert response.status_code == 200
    assert Data.objects.get(id=item.id).updated_at == item.updated_at


def test_patch_unknown_id_returns_404(api_client):
    response = api_client.patch("/api/data/424242/", {"label": "b"})

    assert response.status_code == 404


def test_delete_removes_the_item_and_returns_204(api_client):
    keep, gone = make(("keep", "a"), ("gone", "a"))

    response = api_client.delete(f"/api/data/{gone.id}/")

    assert response.status_code == 204
    assert response.content == b""
    assert list(Data.objects.values_list("id", flat=True)) == [keep.id]


def test_delete_unknown_id_returns_404(api_client):
    response = api_client.delete("/api/data/424242/")

    assert response.status_code == 404


def test_list_returns_items_in_id_order_with_count(api_client):
    items = make(("one", "a"), ("two", "b"), ("three", "a"))

    response = api_client.get("/api/data/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [body(item) for item in items],
    }


def test_list_pages_with_page_and_page_size(api_client):
    items = make(*[(f"text {i}", "a") for i in range(5)])

    response = api_client.get("/api/data/?page=2&page_size=2")

    assert response.status_code == 200
    assert response.json() == {
        "count": 5,
        "next": "http://testserver/api/data/?page=3&page_size=2",
        "previous": "http://testserver/api/data/?page_size=2",
        "results": [body(items[2]), body(items[3])],
    }


def test_list_page_size_is_capped_at_1000(api_client):
    Data.objects.bulk_create([Data(text=f"t{i}", label="a") for i in range(1001)])

    response = api_client.get("/api/data/?page_size=5000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1000
    assert response.json()["next"] == "http://testserver/api/data/?page=2&page_size=5000"


def test_list_default_page_size_is_100(api_client):
    Data.objects.bulk_create([Data(text=f"t{i}", label="a") for i in range(101)])

    response = api_client.get("/api/data/")

    assert len(response.json()["results"]) == 100


def test_list_page_past_the_end_returns_404(api_client):
    make(("t", "a"))

    response = api_client.get("/api/data/?page=7")

    assert response.status_code == 404
    assert response.json() == {"message": "Invalid page.", "extra": {}}


def test_list_filters_by_exact_label(api_client):
    _, pos, _ = make(("a", "negative"), ("b", "positive"), ("c", "positive-ish"))

    response = api_client.get("/api/data/?label=positive")

    assert [row["id"] for row in response.json()["results"]] == [pos.id]


def test_list_search_matches_text_substring_ignoring_case(api_client):
    match_lower, _, match_upper = make(
        ("a great film", "x"), ("terrible", "x"), ("GREATEST ever", "y")
    )

    response = api_client.get("/api/data/?search=GreaT")

    assert [row["id"] for row in response.json()["results"]] == [match_lower.id, match_upper.id]


def test_list_combines_label_and_search(api_client):
    _, wanted, _ = make(("good one", "a"), ("good two", "b"), ("bad", "b"))

    response = api_client.get("/api/data/?label=b&search=good")

    assert [row["id"] for row in response.json()["results"]] == [wanted.id]


def test_list_empty_filters_mean_no_filter(api_client):
    make(("a", "x"), ("b", "y"))

    response = api_client.get("/api/data/?label=&search=")

    assert response.json()["count"] == 2


def test_list_filter_with_nul_character_returns_400_not_500(api_client):
    response = api_client.get("/api/data/?search=a%00b")

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: search: Null characters are not allowed.",
        "extra": {"fields": {"search": ["Null characters are not allowed."]}},
    }


TURKISH = [
    ("hayır", "olumsuz"),
    ("İstanbul'da güzel bir gün", "şehir"),
    ("ığüşöç İĞÜŞÖÇ", "harfler"),
    ("harika 🎉👍🏽 çok iyi", "olumlu 😀"),
]


def test_unicode_round_trips_exactly_through_the_api_and_the_table(api_client):
    created = api_client.post(
        "/api/data/", [{"text": text, "label": label} for text, label in TURKISH]
    )
    listed = api_client.get("/api/data/")

    assert [(row["text"], row["label"]) for row in created.json()] == TURKISH
    assert [(row["text"], row["label"]) for row in listed.json()["results"]] == TURKISH
    # The worker reads the table with raw SQL, so the stored bytes must be right too.
    with connection.cursor() as cursor:
        cursor.execute("SELECT text, label FROM data ORDER BY id")
        assert cursor.fetchall() == TURKISH


def test_unicode_text_is_searchable(api_client):
    (item,) = make(("ığüşöç İĞÜŞÖÇ", "harfler"))
    make(("plain", "x"))

    response = api_client.get("/api/data/", {"search": "üşö"})

    assert [row["id"] for row in response.json()["results"]] == [item.id]


def test_response_body_is_utf8_json_not_ascii_escaped(api_client):
    response = api_client.post("/api/data/", {"text": "hayır 🎉", "label": "l"})

    assert response["Content-Type"] == "application/json"
    assert "hayır 🎉".encode() in response.content
