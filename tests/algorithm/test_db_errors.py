"""A database outage is answered with a message that names no host, address or user: the
driver's text goes to the log only."""

import logging

import pytest

from algorithm import db
from algorithm.errors import Unavailable
from common import settings as common_settings
from tests import support


def test_an_unreachable_database_is_a_generic_unavailable(monkeypatch, caplog):
    port = support.free_port()
    monkeypatch.setattr(
        common_settings, "DATABASE_URL", f"postgres://secret_user@127.0.0.1:{port}/textclf"
    )
    monkeypatch.setattr(db, "_pool", None)

    with (
        caplog.at_level(logging.WARNING, logger="algorithm.db"),
        pytest.raises(Unavailable) as raised,
        db.transaction(),
    ):
        pass

    assert raised.value.message == "The database is unavailable; try again shortly."
    assert f"port {port} failed" in caplog.text
    monkeypatch.setattr(db, "_pool", None)
