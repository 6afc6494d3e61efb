"""The data migration from DRF's plain token table to hashed tokens, on real rows."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from web.accounts.models import ApiToken, digest_of

pytestmark = pytest.mark.django_db

migration = importlib.import_module("web.accounts.migrations.0002_hash_plain_tokens")


def _run_migration() -> None:
    """The migration's function, with the models as they are at that migration."""
    apps = MigrationLoader(connection).project_state(("accounts", "0001_initial")).apps
    with connection.schema_editor() as schema_editor:
        migration.hash_plain_tokens(apps, schema_editor)


def _plain_token_table(rows):
    """authtoken_token as rest_framework.authtoken's migrations left it, with these rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamptz NOT NULL, "
            "user_id integer NOT NULL UNIQUE REFERENCES auth_user (id))"
        )
        for key, user_id in rows:
            cursor.execute(
                "INSERT INTO authtoken_token VALUES (%s, now() - interval '1 day', %s)",
                [key, user_id],
            )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('authtoken', '0001_initial', now())"
        )


def test_plain_tokens_become_hashes_with_their_power_and_the_table_goes(
    django_user_model, anonymous_client
):
    service = django_user_model.objects.create_user(username="service")
    alice = django_user_model.objects.create_user(username="alice")
    _plain_token_table([("the-service-key", service.pk), ("alices-old-plain-key", alice.pk)])

    _run_migration()

    migrated = {token.user.username: token for token in ApiToken.objects.select_related("user")}
    assert migrated["service"].digest == digest_of("the-service-key")
    assert migrated["service"].scopes == ["admin"]
    assert migrated["alice"].digest == digest_of("alices-old-plain-key")
    assert migrated["alice"].scopes == ["read", "predict", "write"]
    assert timezone.now() - migrated["alice"].created_at > timedelta(hours=23)  # kept
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token alices-old-plain-key")
    assert anonymous_client.get("/api/data/").status_code == 200


def test_a_database_without_the_plain_table_has_nothing_to_migrate():
    _run_migration()

    assert ApiToken.objects.count() == 0
