"""/api/health/: 200 when the database answers, a fast 503 naming it when it does not."""

import socket
import time

import pytest
from django.db import connections


@pytest.mark.django_db
def test_health_with_database_up_returns_200(anonymous_client):
    response = anonymous_client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.django_db
def test_health_ignores_a_bad_token(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token stale")

    response = anonymous_client.get("/api/health/")

    assert response.status_code == 200


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


def test_health_with_database_down_returns_503_quickly(anonymous_client, database_down):
    started = time.monotonic()
    response = anonymous_client.get("/api/health/")

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {"database": "error"}}


def test_database_connections_have_a_connect_timeout(settings):
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] == 3
