"""The `ensure_api_token` and `create_api_token` management commands."""

import threading
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from rest_framework.authtoken.models import Token

from web.accounts.services import token_ensure

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_ensure_api_token_creates_service_user_with_exactly_that_token(settings, anonymous_client):
    settings.API_TOKEN = "s3cret-token-from-the-environment"

    output = run("ensure_api_token")

    token = Token.objects.get()
    assert (token.user.username, token.key) == ("service", "s3cret-token-from-the-environment")
    assert not token.user.has_usable_password()
    assert output == "The 'service' user has the token from API_TOKEN.\n"
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token s3cret-token-from-the-environment")
    assert anonymous_client.get("/api/data/").status_code == 200


def test_ensure_api_token_is_idempotent(settings, django_user_model):
    settings.API_TOKEN = "same-token"

    run("ensure_api_token")
    first = Token.objects.get()
    run("ensure_api_token")

    assert list(Token.objects.values_list("key", "created")) == [("same-token", first.created)]
    assert django_user_model.objects.count() == 1


def test_ensure_api_token_replaces_the_token_when_api_token_changes(settings):
    settings.API_TOKEN = "old-token"
    run("ensure_api_token")
    settings.API_TOKEN = "new-token"

    run("ensure_api_token")

    assert list(Token.objects.values_list("user__username", "key")) == [("service", "new-token")]


@pytest.mark.parametrize("bad", ["x" * 41, "has space", "ünïcode"])
def test_ensure_api_token_refuses_an_unusable_token(settings, bad):
    settings.API_TOKEN = bad

    with pytest.raises(CommandError) as error:
        run("ensure_api_token")

    assert str(error.value) == (
        "API_TOKEN is unusable: A token must be 1 to 40 printable ASCII characters without spaces."
    )
    assert Token.objects.count() == 0


def test_ensure_api_token_refuses_a_token_held_by_another_user(settings, django_user_model):
    other = django_user_model.objects.create_user(username="alice")
    Token.objects.create(user=other, key="taken")
    settings.API_TOKEN = "taken"

    with pytest.raises(CommandError) as error:
        run("ensure_api_token")

    assert str(error.value) == "API_TOKEN is unusable: That token already belongs to another user."
    assert list(Token.objects.values_list("user__username", "key")) == [("alice", "taken")]


def test_create_api_token_creates_the_user_and_prints_only_the_token(
    django_user_model, anonymous_client
):
    output = run("create_api_token", "ci-bot")

    token = Token.objects.get(user__username="ci-bot")
    assert output == f"{token.key}\n"
    assert len(token.key) == 40
    assert not django_user_model.objects.get(username="ci-bot").has_usable_password()
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert anonymous_client.get("/api/data/").status_code == 200


def test_create_api_token_for_an_existing_user_replaces_the_old_token(django_user_model):
    first = run("create_api_token", "ci-bot").strip()

    second = run("create_api_token", "ci-bot").strip()

    assert first != second
    assert list(Token.objects.values_list("key", flat=True)) == [second]
    assert django_user_model.objects.filter(username="ci-bot").count() == 1


def test_create_api_token_refuses_an_invalid_username(django_user_model):
    with pytest.raises(CommandError) as error:
        run("create_api_token", "no spaces allowed")

    assert str(error.value).startswith(
        "Invalid username 'no spaces allowed': Enter a valid username."
    )
    assert django_user_model.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_ensure_api_token_run_by_several_replicas_at_once_all_succeed(django_user_model):
    # An existing user is the racy case: creating a new one already serializes them.
    django_user_model.objects.create_user(username="service")
    replicas = 4
    start = threading.Barrier(replicas)

    def start_replica() -> str:
        start.wait()
        try:
            return token_ensure(username="service", key="shared-token").key
        finally:
            connections.close_all()

    with ThreadPoolExecutor(replicas) as pool:
        keys = list(pool.map(lambda _: start_replica(), range(replicas)))

    assert keys == ["shared-token"] * replicas
    assert list(Token.objects.values_list("user__username", "key")) == [("service", "shared-token")]
