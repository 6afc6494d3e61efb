"""Liveness (/api/health/live/: the process answers, whatever else is down) and readiness
(/api/health/: a fast 503 naming what does not answer). Readiness with everything up, and
the prediction status: tests/processes/test_readiness.py, against the real services."""

import socket
import time

import pytest
from django.db import connections

from tests import support


@pytest.mark.django_db
def test_liveness_answers_and_ignores_a_bad_token(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token stale")

    response = anonymous_client.get("/api/health/live/")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def database_down(closed_port, monkeypatch, django_db_blocker):
    """Point the default connection at a port nothing listens on."""
    connection = connections["default"]
    with django_db_blocker.unblock():
        connection.close()
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(closed_port))
        yield
        connection.close()


def test_readiness_with_database_down_returns_503_quickly(
    anonymous_client, database_down, settings
):
    settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{support.free_port()}"
    started = time.monotonic()
    response = anonymous_client.get("/api/health/")

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error"


def test_liveness_with_database_down_still_answers(anonymous_client, database_down):
    assert anonymous_client.get("/api/health/live/").status_code == 200


def test_database_connections_have_a_connect_timeout(settings):
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] == 3
