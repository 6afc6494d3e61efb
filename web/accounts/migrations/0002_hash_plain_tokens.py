"""Replace DRF's plain token table (`authtoken_token`, from `rest_framework.authtoken`) by
hashed tokens, then drop it: a table of working keys left behind would undo the hashing.

Each key becomes an ApiToken holding its SHA-256, with its creation time. The service user's
token gets the admin scope, as ensure_api_token gives it; every other token keeps what it
could do before scopes existed, all but the admin operations that came with them (read,
predict, write). The app's migration records go too, so that installing it again would
create its table again. A database that never had the table has nothing to convert.
Irreversible: the keys are gone.
"""

import hashlib

from django.conf import settings
from django.db import migrations

# Frozen copies, as a migration must not follow the code: web/accounts/services.py
# (SERVICE_USERNAME) and web/accounts/scopes.py (DEFAULT_SCOPES) at the time of writing.
SERVICE_USERNAME = "service"
SERVICE_SCOPES = ["admin"]
USER_SCOPES = ["read", "predict", "write"]
TABLE = "authtoken_token"


def hash_plain_tokens(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {TABLE}")
        rows = cursor.fetchall()
    # Historical models lack USERNAME_FIELD: this is the field of Django's user model, the
    # one the project uses.
    service_ids = set(User.objects.filter(username=SERVICE_USERNAME).values_list("pk", flat=True))
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            name="migrated",
            digest=hashlib.sha256(key.encode()).hexdigest(),
            scopes=SERVICE_SCOPES if user_id in service_ids else USER_SCOPES,
            created_at=created,
        )
        for key, user_id, created in rows
    )
    schema_editor.execute(f"DROP TABLE {TABLE}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(hash_plain_tokens)]
