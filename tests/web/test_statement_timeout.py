"""Every statement of a request is bounded, so a query that cannot finish (a search over a
huge table, a table locked by a migration) answers a 503 that says what to do instead of
holding a worker; imports have their own, larger bound."""

import contextlib

import psycopg2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from common import settings as common_settings

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def data_table_locked():
    """The data table locked by another session, as a long migration would."""
    params = connection.get_connection_params()
    other = psycopg2.connect(**params)
    try:
        with other.cursor() as cursor:
            cursor.execute("LOCK TABLE data IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        other.rollback()
        other.close()


def test_web_connections_carry_the_statement_bound():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        (value,) = cursor.fetchone()

    assert value == f"{common_settings.DATABASE_STATEMENT_TIMEOUT_SECONDS:g}s"


def test_a_search_past_the_bound_is_a_503_saying_what_to_do(api_client):
    with data_table_locked():
        response = api_client.get("/api/data/", {"search": "anything"})

    assert response.status_code == 503
    assert response.json() == {
        "message": "The database did not finish this request's query within "
        f"{common_settings.DATABASE_STATEMENT_TIMEOUT_SECONDS:g} s "
        "(DATABASE_STATEMENT_TIMEOUT_SECONDS): narrow the request (a more specific search, "
        "a smaller page) or try again.",
        "extra": {},
    }


def test_an_import_past_its_own_bound_is_a_503_and_imports_nothing(api_client, settings):
    settings.DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS = 0.3
    upload = SimpleUploadedFile("rows.tsv", b"text\tlabel\nhello\tham\n")

    with data_table_locked():
        response = api_client.post("/api/data/import/", {"file": upload}, format="multipart")

    assert response.status_code == 503
    assert response.json()["message"] == (
        "The database did not finish this request's query within 0.3 s "
        "(DATA_IMPORT_STATEMENT_TIMEOUT_SECONDS): nothing was imported; import the file in "
        "smaller parts."
    )
