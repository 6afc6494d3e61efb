"""One JSON error shape everywhere, including Django's own 400/404/500 and body-size errors."""

import logging

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_unknown_path_returns_json_404(anonymous_client):
    response = anonymous_client.get("/no/such/page/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"message": "Not found.", "extra": {}}


def test_method_not_allowed_returns_405_in_error_shape(api_client):
    response = api_client.put("/api/data/", {})

    assert response.status_code == 405
    assert response.json() == {"message": 'Method "PUT" not allowed.', "extra": {}}


def test_unhandled_exception_is_logged_and_answered_with_json_500(api_client, monkeypatch, caplog):
    def explode(**filters):
        raise RuntimeError("password=hunter2 at internal.host")

    monkeypatch.setattr("web.data.views.data_list", explode)
    api_client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = api_client.get("/api/data/")

    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert response.json() == {
        "message": "Internal server error. It has been logged; please try again later.",
        "extra": {"request_id": request_id},
    }
    assert b"hunter2" not in response.content
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Internal Server Error: /api/data/"
    assert record.exc_info[0] is RuntimeError
    # The id the client can quote finds the traceback in the log.
    assert record.correlation_id == request_id


def test_django_validation_error_from_a_service_becomes_a_400(api_client, monkeypatch):
    from django.core.exceptions import ValidationError

    def refuse(**fields):
        raise ValidationError({"label": "Unknown label."})

    monkeypatch.setattr("web.data.views.data_create", refuse)

    response = api_client.post("/api/data/", {"text": "t", "label": "l"})

    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input: label: Unknown label.",
        "extra": {"fields": {"label": ["Unknown label."]}},
    }


@pytest.mark.urls("tests.web.plain_django_urls")
def test_body_over_4_mib_outside_drf_returns_json_413(anonymous_client):
    response = anonymous_client.post(
        "/echo/", b"x" * (4 * 1024 * 1024 + 1), content_type="application/octet-stream"
    )

    assert response.status_code == 413
    assert response.json() == {
        "message": "Request body is too large: the limit is 4194304 bytes (4 MiB).",
        "extra": {},
    }


def test_disallowed_host_returns_json_400():
    response = APIClient(HTTP_HOST="evil.example").get("/api/health/")

    assert response.status_code == 400
    assert response.json() == {"message": "Bad request.", "extra": {}}


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ({"HTTP_HOST": "127.0.0.1,evil.example"}, "Host"),
        ({"HTTP_AUTHORIZATION": "Token a,Token b"}, "Authorization"),
    ],
)
def test_a_repeated_host_or_authorization_header_returns_json_400(header, name):
    """WSGI servers pass a repeated header on as its values joined with commas."""
    response = APIClient(**header).get("/api/health/live/")

    assert response.status_code == 400
    assert response.json() == {
        "message": f"Send one {name} header: this request has more than one.",
        "extra": {},
    }
