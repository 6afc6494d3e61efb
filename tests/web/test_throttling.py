"""Per-client budgets on reads, writes and predictions: 429 with Retry-After once spent, health
never throttled, one budget per token, counted in Redis, and open when Redis is down."""

import logging
import re
import runpy
import socket
import time
import warnings

import pytest
import redis
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from tests import support
from web.accounts.models import ApiToken
from web.api.throttling import ClientRateThrottle, _Leases
from web.data.models import Data

pytestmark = pytest.mark.django_db

ROW = {"text": "See you at lunch", "label": "ham"}


@pytest.fixture
def rates(settings, monkeypatch):
    """Low budgets: three writes, two predictions and five reads a day per client (a window
    this long cannot roll over in the middle of a test)."""
    monkeypatch.setattr(ClientRateThrottle, "skip_until", 0.0)
    monkeypatch.setattr(ClientRateThrottle, "leases", _Leases())
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"write": "3/day", "predict": "2/day", "read": "5/day"},
    }


@pytest.fixture
def make_client(token_client):
    def make(username: str) -> APIClient:
        return token_client("admin", username=username)

    return make


def _throttled(response):
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 86_400
    assert response.json() == {
        "message": f"Request was throttled. Expected available in {retry_after} seconds.",
        "extra": {"retry_after_seconds": retry_after},
    }


def test_the_write_after_the_budget_is_429_with_retry_after(rates, api_client):
    for _ in range(3):
        assert api_client.post("/api/data/", ROW).status_code == 201

    _throttled(api_client.post("/api/data/", ROW))
    _throttled(api_client.patch("/api/data/1/", {"label": "spam"}))
    assert Data.objects.count() == 3


def test_reads_have_their_own_budget_and_health_none(rates, api_client, anonymous_client):
    for _ in range(3):
        api_client.post("/api/data/", ROW)
    _throttled(api_client.post("/api/data/", ROW))

    for _ in range(5):
        assert api_client.get("/api/data/").status_code == 200
    _throttled(api_client.get("/api/data/"))
    _throttled(api_client.get("/api/schedules/"))
    for _ in range(10):
        assert anonymous_client.get("/api/health/").status_code in {200, 503}


def test_predictions_have_their_own_budget(rates, api_client):
    for _ in range(3):
        api_client.post("/api/data/", ROW)
    # An invalid body is answered by the view, after the throttle counted the request: this
    # needs no algorithm service.
    for _ in range(2):
        assert api_client.post("/api/predict/", {}).status_code == 400

    _throttled(api_client.post("/api/predict/", {"text": "hi"}))


def test_each_token_has_its_own_budget(rates, make_client):
    alice, bob = make_client("alice"), make_client("bob")
    for _ in range(3):
        assert alice.post("/api/data/", ROW).status_code == 201
    _throttled(alice.post("/api/data/", ROW))

    for _ in range(3):
        assert bob.post("/api/data/", ROW).status_code == 201
    _throttled(bob.post("/api/data/", ROW))


def test_the_counter_lives_in_redis_under_this_deployments_prefix(rates, api_client):
    user_id = ApiToken.objects.get().user_id
    for _ in range(2):
        api_client.post("/api/data/", ROW)

    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    window = int(time.time() // 86_400)
    (key,) = client.keys(f"{prefix}*throttle_write_user{user_id}_*")
    assert key.decode().endswith(f"throttle_write_user{user_id}_{window}")
    assert int(client.get(key)) == 2
    assert 0 < client.ttl(key) <= 86_400


def _set_predict_budget(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"write": "3/day", "predict": rate},
    }


def _predict_counter(user_id: int) -> int:
    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    (key,) = client.keys(f"{prefix}*throttle_predict_user{user_id}_*")
    return int(client.get(key))


def test_a_busy_client_costs_one_redis_increment_per_lease_of_requests(rates, settings, api_client):
    _set_predict_budget(settings, "64000/day")  # a lease of 64 requests
    for _ in range(10):
        assert api_client.post("/api/predict/", {}).status_code == 400

    assert _predict_counter(ApiToken.objects.get().user_id) == 64


def test_processes_sharing_a_budget_never_get_more_than_it_together(
    rates, settings, monkeypatch, api_client
):
    _set_predict_budget(settings, "3000/day")  # leases of 3
    user_id = ApiToken.objects.get().user_id
    assert api_client.post("/api/predict/", {}).status_code == 400
    # Other processes have leased all but the last 5 requests of the budget.
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    (key,) = client.keys(f"{prefix}*throttle_predict_user{user_id}_*")
    client.set(key, 2995, keepttl=True)
    first, second = _Leases(), _Leases()

    def statuses(leases: _Leases, count: int) -> list[int]:
        monkeypatch.setattr(ClientRateThrottle, "leases", leases)
        return [api_client.post("/api/predict/", {}).status_code for _ in range(count)]

    assert statuses(first, 3) == [400] * 3  # a whole lease
    assert statuses(second, 2) == [400] * 2  # the 2 left of the budget
    _throttled(api_client.post("/api/predict/", {}))
    assert statuses(first, 2) == [429] * 2
    assert _predict_counter(user_id) == 3007  # each process asked once more, then no more


@pytest.fixture
def refused_port():
    """A port bound but never listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_with_redis_down_requests_are_answered_and_one_warning_logged(
    rates, settings, api_client, caplog, refused_port
):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{refused_port}/0"}
    }
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="web.api.throttling"):
        statuses = [api_client.post("/api/data/", ROW).status_code for _ in range(5)]

    assert time.monotonic() - started < 5
    assert statuses == [201] * 5  # past the budget of 3: nothing counts while Redis is away
    assert [record.getMessage() for record in caplog.records] == [
        f"Throttling is off for 5 s: Redis cannot be reached (Error 111 connecting to "
        f"127.0.0.1:{refused_port}. Connection refused.)."
    ]


def test_rates_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    path = str(support.REPO_ROOT / "web" / "config" / "settings.py")
    monkeypatch.delenv("THROTTLE_RATE_PREDICT", raising=False)
    monkeypatch.delenv("THROTTLE_RATE_WRITE", raising=False)
    monkeypatch.delenv("THROTTLE_RATE_READ", raising=False)
    monkeypatch.delenv("THROTTLE_RATE_AUTH_FAILURES", raising=False)
    monkeypatch.delenv("THROTTLE_RATE_SIGN_IN_ADDRESS", raising=False)
    monkeypatch.delenv("THROTTLE_RATE_SIGN_IN_USER", raising=False)
    assert runpy.run_path(path)["THROTTLE_RATES"] == {
        "predict": "60000/min",
        "write": "6000/min",
        "read": "12000/min",
        "auth_failures": "60/min",
        "sign_in_address": "20/hour",
        "sign_in_user": "10/hour",
    }

    monkeypatch.setenv("THROTTLE_RATE_PREDICT", "off")
    monkeypatch.setenv("THROTTLE_RATE_WRITE", "10/s")
    monkeypatch.setenv("THROTTLE_RATE_READ", "100/hour")
    monkeypatch.setenv("THROTTLE_RATE_AUTH_FAILURES", "off")
    monkeypatch.setenv("THROTTLE_RATE_SIGN_IN_ADDRESS", "5/min")
    monkeypatch.setenv("THROTTLE_RATE_SIGN_IN_USER", "off")
    assert runpy.run_path(path)["THROTTLE_RATES"] == {
        "predict": None,
        "write": "10/s",
        "read": "100/hour",
        "auth_failures": None,
        "sign_in_address": "5/min",
        "sign_in_user": None,
    }

    monkeypatch.setenv("THROTTLE_RATE_WRITE", "lots")
    with pytest.raises(ImproperlyConfigured) as caught:
        runpy.run_path(path)
    assert str(caught.value) == (
        "THROTTLE_RATE_WRITE must be a rate such as 600/min (per s, min, hour or day) or off, "
        "not 'lots'."
    )


def test_the_schema_documents_429_on_every_call_but_health(anonymous_client):
    schema = anonymous_client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"message", "extra"}

    predict = paths["/api/predict/"]["post"]["responses"]["429"]
    assert predict["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert predict["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "429" in paths["/api/data/{id}/"]["delete"]["responses"]
    assert "429" in paths["/api/data/"]["get"]["responses"]
    assert "429" not in paths["/api/health/"]["get"]["responses"]


def _anonymous_reads(client, forwarded_for: list[str]) -> list[int]:
    return [
        client.get("/api/docs/", HTTP_X_FORWARDED_FOR=value).status_code for value in forwarded_for
    ]


def test_without_a_token_the_budget_is_the_peers_whatever_x_forwarded_for_says(
    rates, anonymous_client
):
    forwarded = [f"198.51.100.{number}, ".ljust(2_000, "x") for number in range(6)]
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert _anonymous_reads(anonymous_client, forwarded) == [200] * 5 + [429]

    assert not warned  # no CacheKeyWarning: the key is short whatever the header held
    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    window = int(time.time() // 86_400)
    (key,) = client.keys(f"{prefix}*throttle_read_addr*_{window}")
    ident = key.decode().removeprefix(prefix).split("throttle_read_")[1]
    assert re.fullmatch(r"addr[0-9a-f]{32}_\d+", ident), ident
    assert int(client.get(key)) == 6


def test_behind_trusted_proxies_the_client_is_the_entry_they_wrote(
    rates, settings, anonymous_client
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # Whatever a client wrote itself comes first; the proxy appends the address it saw.
    first = [f"{spoofed}, 203.0.113.1" for spoofed in ("a", "b", "c", "d", "e", "f")]
    second = ["203.0.113.2"] * 6

    assert _anonymous_reads(anonymous_client, first) == [200] * 5 + [429]
    assert _anonymous_reads(anonymous_client, second) == [200] * 5 + [429]
