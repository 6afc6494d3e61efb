"""POST /api/data/ with a list: up to 10,000 items, all created or none."""

import pytest

from web.data.models import Data

pytestmark = pytest.mark.django_db


def items(count: int) -> list[dict]:
    return [{"text": f"text {i}", "label": f"label {i % 3}"} for i in range(count)]


def test_bulk_create_returns_201_with_created_items_in_order(api_client):
    response = api_client.post("/api/data/", items(3))

    assert response.status_code == 201
    rows = list(Data.objects.values("id", "text", "label"))
    assert [
        {"id": row["id"], "text": row["text"], "label": row["label"]} for row in response.json()
    ] == rows
    assert [row["text"] for row in rows] == ["text 0", "text 1", "text 2"]


def test_bulk_create_with_one_bad_item_inserts_nothing(api_client):
    payload = items(5)
    payload[3]["label"] = "   "

    response = api_client.post("/api/data/", payload)

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: [3].label: This field may not be blank.",
        "extra": {"fields": {"[3].label": ["This field may not be blank."]}},
    }
    assert Data.objects.count() == 0


def test_bulk_create_reports_every_bad_item_and_field(api_client):
    payload = items(4)
    payload[0] = {"text": 5, "label": "ok"}
    payload[2] = {"label": None}

    response = api_client.post("/api/data/", payload)

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: [0].text: Not a valid string. (2 more errors)",
        "extra": {
            "fields": {
                "[0].text": ["Not a valid string."],
                "[2].text": ["This field is required."],
                "[2].label": ["This field may not be null."],
            }
        },
    }
    assert Data.objects.count() == 0


def test_bulk_create_with_a_non_object_item_names_its_index(api_client):
    response = api_client.post("/api/data/", [{"text": "t", "label": "l"}, "just a string"])

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: [1]: Invalid data. Expected a dictionary, but got str.",
        "extra": {"fields": {"[1]": ["Invalid data. Expected a dictionary, but got str."]}},
    }


def test_bulk_create_with_empty_list_returns_400(api_client):
    response = api_client.post("/api/data/", [])

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: This list may not be empty.",
        "extra": {"fields": {"non_field_errors": ["This list may not be empty."]}},
    }


def test_bulk_create_accepts_10000_items(api_client):
    response = api_client.post("/api/data/", items(10_000))

    assert response.status_code == 201
    assert len(response.json()) == 10_000
    assert Data.objects.count() == 10_000


def test_bulk_create_over_10000_items_returns_400_and_inserts_nothing(api_client):
    response = api_client.post("/api/data/", items(10_001))

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: Ensure this field has no more than 10000 elements.",
        "extra": {
            "fields": {"non_field_errors": ["Ensure this field has no more than 10000 elements."]}
        },
    }
    assert Data.objects.count() == 0
