"""Token authentication: everything but health, schema and docs needs `Authorization: Token`."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

NO_CREDENTIALS = {"message": "Authentication credentials were not provided.", "extra": {}}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/data/"),
        ("post", "/api/data/"),
        ("get", "/api/data/1/"),
        ("put", "/api/data/1/"),
        ("patch", "/api/data/1/"),
        ("delete", "/api/data/1/"),
    ],
)
def test_data_endpoints_without_token_return_401(anonymous_client, method, path):
    response = getattr(anonymous_client, method)(path, {"text": "t", "label": "l"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == NO_CREDENTIALS


def test_unknown_token_returns_401(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anonymous_client.get("/api/data/")

    assert response.status_code == 401
    assert response.json() == {"message": "Invalid token.", "extra": {}}


def test_token_of_inactive_user_returns_401(anonymous_client, django_user_model):
    user = django_user_model.objects.create_user(username="gone", is_active=False)
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    response = anonymous_client.get("/api/data/")

    assert response.status_code == 401
    assert response.json() == {"message": "User inactive or deleted.", "extra": {}}


def test_valid_token_is_accepted(api_client):
    response = api_client.get("/api/data/")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/health/", "/api/schema/", "/api/docs/"])
def test_health_schema_and_docs_are_open(anonymous_client, path):
    response = anonymous_client.get(path)

    assert response.status_code == 200


def test_a_checked_token_is_trusted_without_the_database(api_client, settings):
    settings.API_TOKEN_CACHE_SECONDS = 60
    assert api_client.get("/api/data/").status_code == 200

    with CaptureQueriesContext(connection) as queries:
        assert api_client.get("/api/data/").status_code == 200

    assert queries.captured_queries
    assert not [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]


def test_a_deleted_token_stops_working_once_its_cache_time_passes(
    anonymous_client, django_user_model, settings
):
    settings.API_TOKEN_CACHE_SECONDS = 0.3
    token = Token.objects.create(user=django_user_model.objects.create_user(username="bob"))
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert anonymous_client.get("/api/data/").status_code == 200

    token.delete()
    assert anonymous_client.get("/api/data/").status_code == 200
    time.sleep(0.35)
    assert anonymous_client.get("/api/data/").status_code == 401
