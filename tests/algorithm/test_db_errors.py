"""A database outage is answered with a message that names no host, address or user: the
driver's text goes to the log only."""

import logging
import urllib.parse

import pytest

from algorithm.domain import db
from algorithm.domain.errors import Unavailable
from common import settings as common_settings
from tests import support


def test_an_unreachable_database_is_a_generic_unavailable(monkeypatch, caplog):
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
    monkeypatch.setattr(db, "_pool", None)


def test_a_query_past_the_statement_timeout_is_unavailable_naming_the_bound(monkeypatch):
    server = urllib.parse.urlsplit(common_settings.DATABASE_URL)._replace(path="/postgres")
    monkeypatch.setattr(common_settings, "DATABASE_URL", urllib.parse.urlunsplit(server))
    monkeypatch.setattr(common_settings, "DATABASE_STATEMENT_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(db, "_pool", None)

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
    monkeypatch.setattr(db, "_pool", None)
