"""A database outage is answered with a message that names no host, address or user: the
driver's text goes to the log only. Connections are kept between transactions, and one the
server ended (as a restart does) is replaced without an error."""

import logging
import urllib.parse

import psycopg2
import pytest

from algorithm.domain import db
from algorithm.domain.errors import Unavailable
from common import settings as common_settings
from tests import support


@pytest.fixture
def own_pool(monkeypatch):
    """db's pool made afresh for the test, its connections closed after it."""
    monkeypatch.setattr(db, "_pool", None)
    yield
    if db._pool is not None:
        db._pool.closeall()


def test_an_unreachable_database_is_a_generic_unavailable(monkeypatch, caplog, own_pool):
    port = support.free_port()
    monkeypatch.setattr(
        common_settings, "DATABASE_URL", f"postgres://secret_user@127.0.0.1:{port}/textclf"
    )
    monkeypatch.setattr(db, "_pool", None)

    with (
        caplog.at_level(logging.WARNING, logger="algorithm.domain.db"),
        pytest.raises(Unavailable) as raised,
        db.transaction(),
    ):
        pass

    assert raised.value.message == "The database is unavailable; try again shortly."
    assert f"port {port} failed" in caplog.text


def test_a_query_past_the_statement_timeout_is_unavailable_naming_the_bound(monkeypatch, own_pool):
    server = urllib.parse.urlsplit(common_settings.DATABASE_URL)._replace(path="/postgres")
    monkeypatch.setattr(common_settings, "DATABASE_URL", urllib.parse.urlunsplit(server))
    monkeypatch.setattr(common_settings, "DATABASE_STATEMENT_TIMEOUT_SECONDS", 0.2)

    with pytest.raises(Unavailable) as raised, db.transaction() as cursor:
        cursor.execute("SELECT pg_sleep(5)")

    assert raised.value.message == (
        "The database did not finish the query within 0.2 s "
        "(DATABASE_STATEMENT_TIMEOUT_SECONDS); try again shortly."
    )
    # The connection went back to the pool sound, and answers the next call.
    with db.transaction() as cursor:
        cursor.execute("SELECT 1 AS one")
        assert cursor.fetchone() == {"one": 1}


def _backend() -> int:
    with db.transaction() as cursor:
        cursor.execute("SELECT pg_backend_pid() AS pid")
        return cursor.fetchone()["pid"]


def test_a_connection_is_kept_between_transactions_and_replaced_once_the_server_ends_it(
    own_pool,
):
    first = _backend()
    assert _backend() == first, "the second transaction opened a connection of its own"
    admin = psycopg2.connect(common_settings.DATABASE_URL)
    admin.autocommit = True  # each check reads pg_stat_activity afresh
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (first,))

            def ended():
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (first,))
                return cursor.fetchone()[0] == 0

            support.wait_until(ended, 10, "the server to end the connection")
    finally:
        admin.close()
    assert _backend() != first
