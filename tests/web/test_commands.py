"""The token management commands: `ensure_api_token` (the release step's), `create_api_token`,
`list_api_tokens` and `revoke_api_token`."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from web.accounts.models import ApiToken, digest_of
from web.accounts.services import token_ensure

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _live_tokens():
    return list(
        ApiToken.objects.filter(revoked_at__isnull=True).values_list(
            "user__username", "digest", "scopes"
        )
    )


def test_ensure_api_token_gives_the_service_user_that_token_hashed_with_the_admin_scope(
    settings, anonymous_client
):
    settings.API_TOKEN = "s3cret-token-from-the-environment"

    output = run("ensure_api_token")

    token = ApiToken.objects.get()
    assert (token.user.username, token.name, token.scopes, token.expires_at) == (
        "service",
        "API_TOKEN",
        ["admin"],
        None,
    )
    assert token.digest == digest_of("s3cret-token-from-the-environment")
    assert not token.user.has_usable_password()
    assert output == "The 'service' user has the token from API_TOKEN, with the admin scope.\n"
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token s3cret-token-from-the-environment")
    assert anonymous_client.get("/api/tokens/").status_code == 200


def test_ensure_api_token_is_idempotent(settings, django_user_model):
    settings.API_TOKEN = "same-token"

    run("ensure_api_token")
    first = ApiToken.objects.get()
    run("ensure_api_token")

    assert list(ApiToken.objects.values_list("pk", "created_at", "revoked_at")) == [
        (first.pk, first.created_at, None)
    ]
    assert django_user_model.objects.count() == 1


def test_ensure_api_token_revokes_the_old_token_when_api_token_changes(settings):
    settings.API_TOKEN = "old-token"
    run("ensure_api_token")
    settings.API_TOKEN = "new-token"

    run("ensure_api_token")

    assert _live_tokens() == [("service", digest_of("new-token"), ["admin"])]
    assert ApiToken.objects.get(digest=digest_of("old-token")).revoked_at is not None


def test_ensure_api_token_brings_back_an_earlier_api_token_set_again(settings):
    settings.API_TOKEN = "old-token"
    run("ensure_api_token")
    settings.API_TOKEN = "new-token"
    run("ensure_api_token")
    settings.API_TOKEN = "old-token"

    run("ensure_api_token")

    assert _live_tokens() == [("service", digest_of("old-token"), ["admin"])]


@pytest.mark.parametrize("bad", ["x" * 41, "has space", "ünïcode"])
def test_ensure_api_token_refuses_an_unusable_token(settings, bad):
    settings.API_TOKEN = bad

    with pytest.raises(CommandError) as error:
        run("ensure_api_token")

    assert str(error.value) == (
        "API_TOKEN is unusable: A token must be 1 to 40 printable ASCII characters without spaces."
    )
    assert ApiToken.objects.count() == 0


def test_ensure_api_token_refuses_a_token_held_by_another_user(settings):
    key = run("create_api_token", "alice").strip()
    settings.API_TOKEN = key

    with pytest.raises(CommandError) as error:
        run("ensure_api_token")

    assert str(error.value) == "API_TOKEN is unusable: That token already belongs to another user."
    assert [(user, digest) for user, digest, _ in _live_tokens()] == [("alice", digest_of(key))]


def test_create_api_token_creates_the_user_and_prints_only_the_key(
    django_user_model, anonymous_client
):
    output = run("create_api_token", "ci-bot")

    key = output.strip()
    assert output == f"{key}\n"
    assert len(key) == 40
    token = ApiToken.objects.get(user__username="ci-bot")
    assert token.digest == digest_of(key)
    assert token.scopes == ["read", "predict", "write"]
    assert not django_user_model.objects.get(username="ci-bot").has_usable_password()
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anonymous_client.get("/api/data/").status_code == 200


def test_create_api_token_takes_scopes_a_name_and_an_expiry():
    before = timezone.now()

    run("create_api_token", "ci-bot", "--scope", "predict", "--name", "shop", "--expires-in", "30d")

    token = ApiToken.objects.get()
    assert (token.scopes, token.name) == (["predict"], "shop")
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)


def test_create_api_token_for_an_existing_user_adds_a_token():
    first = run("create_api_token", "ci-bot").strip()

    second = run("create_api_token", "ci-bot").strip()

    assert first != second
    assert sorted(digest for _, digest, _ in _live_tokens()) == sorted(
        [digest_of(first), digest_of(second)]
    )


def test_create_api_token_refuses_an_invalid_username(django_user_model):
    with pytest.raises(CommandError) as error:
        run("create_api_token", "no spaces allowed")

    assert str(error.value).startswith(
        "Invalid username 'no spaces allowed': Enter a valid username."
    )
    assert django_user_model.objects.count() == 0


def test_create_api_token_refuses_the_service_user():
    with pytest.raises(CommandError, match=r"^The 'service' user holds only the token from"):
        run("create_api_token", "service")

    assert ApiToken.objects.count() == 0


def test_list_api_tokens_shows_every_token_but_never_a_key(settings):
    settings.API_TOKEN = "the-service-token"
    run("ensure_api_token")
    key = run("create_api_token", "ci-bot", "--scope", "read", "--name", "dashboard").strip()

    output = run("list_api_tokens")

    lines = output.splitlines()
    assert lines[0].split() == [
        "ID",
        "FINGERPRINT",
        "USER",
        "NAME",
        "SCOPES",
        "CREATED",
        "EXPIRES",
        "REVOKED",
    ]
    bot, service = (line.split() for line in lines[1:])
    assert bot[:5] == [
        str(ApiToken.objects.get(user__username="ci-bot").pk),
        digest_of(key)[:8],
        "ci-bot",
        "dashboard",
        "read",
    ]
    assert service[2:5] == ["service", "API_TOKEN", "admin"]
    assert key not in output and "the-service-token" not in output


def test_revoke_api_token_revokes_it(anonymous_client):
    key = run("create_api_token", "ci-bot").strip()
    token = ApiToken.objects.get()

    output = run("revoke_api_token", str(token.pk))

    token.refresh_from_db()
    assert output.startswith(f"Token {token.pk} ({digest_of(key)[:8]}) of ci-bot is revoked since")
    assert token.revoked_at is not None
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anonymous_client.get("/api/data/").status_code == 401


def test_revoke_api_token_refuses_an_unknown_id_and_the_service_token(settings):
    settings.API_TOKEN = "the-service-token"
    run("ensure_api_token")
    service = ApiToken.objects.get()

    with pytest.raises(CommandError, match=r"^There is no token 12345\.$"):
        run("revoke_api_token", "12345")
    with pytest.raises(CommandError, match=r"^This is the service user's token"):
        run("revoke_api_token", str(service.pk))

    assert _live_tokens() == [("service", digest_of("the-service-token"), ["admin"])]


@pytest.mark.django_db(transaction=True)
def test_ensure_api_token_run_by_several_replicas_at_once_all_succeed(django_user_model):
    # An existing user is the racy case: creating a new one already serializes them.
    django_user_model.objects.create_user(username="service")
    replicas = 4
    start = threading.Barrier(replicas)

    def start_replica() -> int:
        start.wait()
        try:
            return token_ensure(username="service", key="shared-token").pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(replicas) as pool:
        ids = list(pool.map(lambda _: start_replica(), range(replicas)))

    assert len(set(ids)) == 1
    assert _live_tokens() == [("service", digest_of("shared-token"), ["admin"])]
