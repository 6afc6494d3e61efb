"""Every bad input to /api/data/ is a 400 (or 413) in the API's error shape, and stores nothing."""

import json

import pytest

from web.data.models import Data

pytestmark = pytest.mark.django_db


def field_error(path: str, message: str) -> dict:
    return {"message": f"Invalid input: {path}: {message}", "extra": {"fields": {path: [message]}}}


@pytest.mark.parametrize(
    ("payload", "path", "message"),
    [
        ({"label": "l"}, "text", "This field is required."),
        ({"text": "t"}, "label", "This field is required."),
        ({"text": "", "label": "l"}, "text", "This field may not be blank."),
        ({"text": " \t\n ", "label": "l"}, "text", "This field may not be blank."),
        ({"text": "t", "label": "   "}, "label", "This field may not be blank."),
        ({"text": None, "label": "l"}, "text", "This field may not be null."),
        ({"text": "t", "label": None}, "label", "This field may not be null."),
        ({"text": 5, "label": "l"}, "text", "Not a valid string."),
        ({"text": "t", "label": 5}, "label", "Not a valid string."),
        ({"text": 1.5, "label": "l"}, "text", "Not a valid string."),
        ({"text": True, "label": "l"}, "text", "Not a valid string."),
        ({"text": ["a"], "label": "l"}, "text", "Not a valid string."),
        ({"text": {"a": 1}, "label": "l"}, "text", "Not a valid string."),
        ({"text": "t", "label": ["a"]}, "label", "Not a valid string."),
        ({"text": "a\x00b", "label": "l"}, "text", "Null characters are not allowed."),
        (
            {"text": "t", "label": "x" * 101},
            "label",
            "Ensure this field has no more than 100 characters.",
        ),
        (
            {"text": "x" * 20_001, "label": "l"},
            "text",
            "Ensure this field has no more than 20000 characters.",
        ),
    ],
    ids=[
        "text-missing",
        "label-missing",
        "text-empty",
        "text-whitespace",
        "label-whitespace",
        "text-null",
        "label-null",
        "text-int",
        "label-int",
        "text-float",
        "text-bool",
        "text-list",
        "text-object",
        "label-list",
        "text-nul-character",
        "label-101-chars",
        "text-20001-chars",
    ],
)
def test_create_with_invalid_field_returns_400_naming_the_field(api_client, payload, path, message):
    response = api_client.post("/api/data/", payload)

    assert response.status_code == 400
    assert response.json() == field_error(path, message)
    assert Data.objects.count() == 0


def test_create_with_both_fields_missing_lists_both(api_client):
    response = api_client.post("/api/data/", {})

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: text: This field is required. (1 more error)",
        "extra": {
            "fields": {"text": ["This field is required."], "label": ["This field is required."]}
        },
    }


def test_text_of_exactly_20000_characters_and_label_of_100_are_accepted(api_client):
    response = api_client.post("/api/data/", {"text": "ş" * 20_000, "label": "ğ" * 100})

    assert response.status_code == 201
    assert Data.objects.get().text == "ş" * 20_000


def test_surrounding_whitespace_is_trimmed(api_client):
    response = api_client.post("/api/data/", {"text": "  padded\n", "label": " l "})

    assert (response.json()["text"], response.json()["label"]) == ("padded", "l")


def test_patch_with_non_string_label_returns_400(api_client):
    item = Data.objects.create(text="t", label="a")

    response = api_client.patch(f"/api/data/{item.id}/", {"label": 7})

    assert response.status_code == 400
    assert response.json() == field_error("label", "Not a valid string.")
    assert Data.objects.get(id=item.id).label == "a"


@pytest.mark.parametrize(
    "body", ['{"text": "t", "label": ', "not json", "{'text': 'single quotes'}"]
)
def test_malformed_json_returns_400(api_client, body):
    response = api_client.post("/api/data/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["message"].startswith("JSON parse error - ")
    assert response.json()["extra"] == {}


def test_json_nan_is_refused(api_client):
    response = api_client.post(
        "/api/data/", '{"text": NaN, "label": "l"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "message": "JSON parse error - Out of range float values are not JSON compliant: 'NaN'",
        "extra": {},
    }


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("just text", "Invalid data. Expected a dictionary, but got str."),
        (42, "Invalid data. Expected a dictionary, but got int."),
        (None, "No data provided"),
    ],
)
def test_json_that_is_not_an_object_or_list_returns_400(api_client, payload, message):
    response = api_client.post("/api/data/", json.dumps(payload), content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "message": f"Invalid input: {message}",
        "extra": {"fields": {"non_field_errors": [message]}},
    }


def test_form_encoded_body_returns_415(api_client):
    response = api_client.post(
        "/api/data/", "text=t&label=l", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json() == {
        "message": 'Unsupported media type "application/x-www-form-urlencoded" in request.',
        "extra": {},
    }


def test_body_over_4_mib_returns_413_json(api_client):
    body = json.dumps({"text": "x" * (4 * 1024 * 1024), "label": "l"})

    response = api_client.post("/api/data/", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {
        "message": "Request body is too large: the limit is 4194304 bytes (4 MiB).",
        "extra": {},
    }
    assert Data.objects.count() == 0


def test_bulk_body_just_under_4_mib_is_parsed(api_client):
    # 200 texts of 20,000 characters: the largest bulk of full-length texts that fits.
    payload = [{"text": "x" * 20_000, "label": "l"}] * 200
    assert len(json.dumps(payload)) < 4 * 1024 * 1024

    response = api_client.post("/api/data/", payload)

    assert response.status_code == 201
    assert Data.objects.count() == 200


def test_chunked_body_without_content_length_returns_411(api_client):
    response = api_client.generic(
        "POST", "/api/data/", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )

    assert response.status_code == 411
    assert response.json() == {
        "message": "Send the request body with a Content-Length header, not chunked.",
        "extra": {},
    }
