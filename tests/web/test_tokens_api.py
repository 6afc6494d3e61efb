"""Token management over REST (admin tokens only): keys stored only as hashes and shown once,
at creation; scopes, expiry and revocation as asked."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from web.accounts.models import ApiToken, digest_of
from web.accounts.services import SERVICE_USERNAME, token_ensure

pytestmark = pytest.mark.django_db

FIELDS = {"id", "user", "name", "scopes", "fingerprint", "created_at", "expires_at", "revoked_at"}


def _create(client, **body):
    response = client.post("/api/tokens/", {"user": "ci-bot", **body})
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_created_token_answers_its_key_once_and_works_with_its_scopes(
    api_client, anonymous_client
):
    response = api_client.post(
        "/api/tokens/", {"user": "ci-bot", "name": "dashboard", "scopes": ["read"]}
    )

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    created = response.json()
    key = created.pop("key")
    assert set(created) == FIELDS
    assert (created["user"], created["name"], created["scopes"]) == (
        "ci-bot",
        "dashboard",
        ["read"],
    )
    assert (created["expires_at"], created["revoked_at"]) == (None, None)
    assert created["fingerprint"] == digest_of(key)[:8]
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anonymous_client.get("/api/data/").status_code == 200
    assert anonymous_client.post("/api/predict/", {}).status_code == 403


def test_by_default_a_token_may_read_predict_and_write(api_client):
    assert _create(api_client)["scopes"] == ["read", "predict", "write"]


def test_the_database_never_holds_a_key(api_client, settings):
    settings.API_TOKEN = "the-service-token-value"
    token_ensure(username=SERVICE_USERNAME, key=settings.API_TOKEN)
    keys = [_create(api_client, scopes=[scope])["key"] for scope in ("read", "admin")]

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)

    assert ApiToken.objects.count() == 4  # api_client's, the service's, the two made here
    for key in [*keys, settings.API_TOKEN]:
        assert key not in stored
        assert digest_of(key) in stored


def test_the_list_and_a_token_never_show_a_key(api_client):
    key = _create(api_client)["key"]

    listed = api_client.get("/api/tokens/")
    one = api_client.get(f"/api/tokens/{ApiToken.objects.get(user__username='ci-bot').pk}/")

    assert listed.status_code == one.status_code == 200
    assert listed.json()["count"] == 2
    assert [set(token) for token in listed.json()["results"]] == [FIELDS, FIELDS]
    assert set(one.json()) == FIELDS
    assert key not in listed.content.decode() and key not in one.content.decode()


def test_a_revoked_token_is_refused_and_listed_as_revoked(api_client, anonymous_client):
    created = _create(api_client)
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {created['key']}")

    assert api_client.delete(f"/api/tokens/{created['id']}/").status_code == 204
    assert api_client.delete(f"/api/tokens/{created['id']}/").status_code == 204

    assert anonymous_client.get("/api/data/").status_code == 401
    assert api_client.get(f"/api/tokens/{created['id']}/").json()["revoked_at"] is not None


def test_an_expiring_token(api_client, anonymous_client):
    expires_at = timezone.now() + timedelta(days=30)

    created = _create(api_client, expires_at=expires_at.isoformat())

    assert ApiToken.objects.get(pk=created["id"]).expires_at == expires_at
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {created['key']}")
    assert anonymous_client.get("/api/data/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"scopes": ["root"]}, "scopes[0]", '"root" is not a valid choice.'),
        ({"scopes": []}, "scopes", "Ensure this field has at least 1 elements."),
        ({"user": "no spaces"}, "user", "Enter a valid username."),
        ({"user": SERVICE_USERNAME}, "user", "The 'service' user holds only the token from"),
        ({"name": "x" * 101}, "name", "Ensure this field has no more than 100 characters."),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "An expiry must be in the future."),
    ],
)
def test_invalid_requests_are_400_naming_the_field(api_client, body, field, message):
    response = api_client.post("/api/tokens/", {"user": "ci-bot", **body})

    assert response.status_code == 400
    assert response.json()["extra"]["fields"][field][0].startswith(message)
    assert ApiToken.objects.count() == 1  # api_client's own


def test_an_unknown_token_is_404(api_client):
    assert api_client.get("/api/tokens/999999/").json() == {
        "message": "There is no token 999999.",
        "extra": {},
    }
    assert api_client.delete("/api/tokens/999999/").status_code == 404
    assert api_client.delete(f"/api/tokens/{2**70}/").status_code == 404


def test_the_service_token_is_replaced_through_api_token_not_revoked(api_client, settings):
    token = token_ensure(username=SERVICE_USERNAME, key="the-service-token-value")

    response = api_client.delete(f"/api/tokens/{token.pk}/")

    assert response.status_code == 409
    assert response.json()["message"].startswith(
        "This is the service user's token, which comes from API_TOKEN; to replace it, change "
        "API_TOKEN and run `python -m web.manage ensure_api_token`"
    )
    token.refresh_from_db()
    assert token.revoked_at is None
