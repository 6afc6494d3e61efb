"""`POST /api/predict/` as web serves it (web/algorithm_proxy/predict_asgi.py, on the event
loop), with its predictions coalesced and with PREDICT_COALESCING off, against Django's own
PredictView served by WSGI: the same status, body and headers for every kind of request a
client may send, on real servers of one deployment."""

import http.client
import json
import re
import urllib.parse
import uuid
from types import SimpleNamespace

import pytest
import requests

from common import limits
from tests import support
from tests.processes.conftest import activate_and_wait, api_token

pytestmark = pytest.mark.slow

# Small enough to run out within a test; each request then takes a Redis round trip, so the
# budget's slow path (a thread, off the event loop) runs on every prediction.
PREDICT_BUDGET = 40
# Headers that differ between any two answers.
VARYING = {"date", "server", "x-request-id", "connection", "keep-alive"}


@pytest.fixture(scope="module")
def servers(algorithm_services, served_model_id, prediction_stub, tmp_path_factory):
    """web as deployed, and the same Django app under gunicorn's threaded WSGI worker; each
    with tokens of its own user, so their budgets are apart. The SMS model answers."""
    activate_and_wait(algorithm_services, served_model_id, prediction_stub)
    workdir = tmp_path_factory.mktemp("predict-asgi")
    env = {**algorithm_services.env, "THROTTLE_RATE_PREDICT": f"{PREDICT_BUDGET}/hour"}
    started = {}
    try:
        for name, app, coalescing in (
            ("asgi", None, "on"),
            # Each prediction on a call of its own, on either path: the same answers.
            ("asgi_alone", None, "off"),
            ("wsgi", "-k gthread web.config.wsgi:application", "off"),
        ):
            port = support.free_port()
            server_env = {
                **support.metrics_apart(env, workdir / f"metrics-{name}"),
                "WEB_PORT": str(port),
                "WEB_WORKERS": "1",
                "PREDICT_COALESCING": coalescing,
            }
            command = support.procfile_command("web")
            if app:
                command = command.replace("web.config.asgi:application", app)
            started[name] = support.Service(f"web-{name}", command, server_env, workdir)
            user = f"{name}-{uuid.uuid4().hex[:8]}"
            started[name].url = f"http://127.0.0.1:{port}/api/predict/"
            started[name].tokens = {
                "predict": api_token(env, user, "predict"),
                "read": api_token(env, user, "read"),
            }
            started[name].wait_for_port(port)
        yield started
    finally:
        for service in started.values():
            service.stop()


def _answer(server, body: bytes | None, token: str | None, **headers: str):
    headers = {"Content-Type": "application/json", **headers}
    if token:
        headers["Authorization"] = f"Token {server.tokens[token]}"
    response = requests.post(server.url, data=body, headers=headers, timeout=10)
    return response


def _without_ids(body):
    """An answer with each prediction's id, which differs between any two, left blank."""
    predictions = body if isinstance(body, list) else [body]
    if all(isinstance(p, dict) and "prediction_id" in p for p in predictions):
        return [{**p, "prediction_id": ""} for p in predictions]
    return body


def _same(fast, django) -> None:
    assert fast.status_code == django.status_code, (fast.text, django.text)
    assert _without_ids(fast.json()) == _without_ids(django.json())
    shown = {name.lower(): value for name, value in fast.headers.items()}
    expected = {name.lower(): value for name, value in django.headers.items()}
    for name in VARYING | {"content-length"}:
        shown.pop(name, None)
        expected.pop(name, None)
    assert shown == expected


CASES = {
    "one text": (b'{"text": "WINNER! Claim your free prize now"}', "predict"),
    "a list": (b'{"texts": ["lunch at 1?", "WINNER! Claim your prize"]}', "predict"),
    "one text with a reference": (b'{"text": "lunch at 1?", "reference": "ticket-7"}', "predict"),
    "a list with references": (
        b'{"texts": ["lunch at 1?", "WINNER! Claim your prize"], "references": ["t-1", ""]}',
        "predict",
    ),
    "references not one per text": (b'{"texts": ["a", "b"], "references": ["t-1"]}', "predict"),
    "a reference too long": (
        json.dumps({"text": "hi", "reference": "r" * (limits.MAX_REFERENCE_CHARS + 1)}).encode(),
        "predict",
    ),
    "neither field": (b"{}", "predict"),
    "not a string": (b'{"text": 5}', "predict"),
    "a bad model id": (b'{"text": "hi", "model_id": "x"}', "predict"),
    "an unknown model": (
        json.dumps({"text": "hi", "model_id": str(uuid.uuid4())}).encode(),
        "predict",
    ),
    "a text too long": (json.dumps({"text": "a" * 20_001}).encode(), "predict"),
    "broken JSON": (b'{"text": ', "predict"),
    "JSON nested too deeply": (b"[" * 100_000 + b"]" * 100_000, "predict"),
    "a body over the limit": (b'{"text": "' + b"a" * (4 * 2**20) + b'"}', "predict"),
    "no token": (b'{"text": "hi"}', None),
    "a token without the predict scope": (b'{"text": "hi"}', "read"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_kind_of_request_gets_djangos_answer(servers, case):
    body, token = CASES[case]
    django = _answer(servers["wsgi"], body, token)
    _same(_answer(servers["asgi"], body, token), django)
    _same(_answer(servers["asgi_alone"], body, token), django)


def test_each_prediction_has_an_id_of_its_own_on_each_path(servers):
    """Needs the algorithm service's prediction ids (issue 26's prediction log)."""
    body = b'{"texts": ["lunch at 1?", "WINNER! Claim your prize"], "references": ["t-1", ""]}'
    ids = []
    for name in ("asgi", "asgi_alone", "wsgi"):
        ids += [p["prediction_id"] for p in _answer(servers[name], body, "predict").json()]
        ids.append(_answer(servers[name], b'{"text": "hi"}', "predict").json()["prediction_id"])
    assert [str(uuid.UUID(prediction_id)) for prediction_id in ids] == ids
    assert len(set(ids)) == len(ids)


def test_an_unknown_token_gets_djangos_answer(servers):
    answers = [
        requests.post(
            server.url,
            json={"text": "hi"},
            headers={"Authorization": "Token not-a-token"},
            timeout=10,
        )
        for server in (servers["asgi"], servers["wsgi"])
    ]
    _same(*answers)
    assert answers[0].status_code == 401
    assert answers[0].headers["WWW-Authenticate"] == "Token"


def _with_headers(server, headers: list[tuple[str, str]], body: bytes) -> SimpleNamespace:
    """The answer to a request with exactly these headers, repeated ones included, which
    requests cannot send."""
    url = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest("POST", url.path, skip_host=True, skip_accept_encoding=True)
        for name, value in [*headers, ("Content-Length", str(len(body)))]:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read().decode()
        return SimpleNamespace(
            status_code=response.status,
            text=text,
            json=lambda: json.loads(text),
            headers=dict(response.getheaders()),
        )
    finally:
        connection.close()


REPEATED = {
    "two tokens": [("Authorization", "predict"), ("Authorization", "Token another")],
    "one token twice": [("Authorization", "predict"), ("Authorization", "predict")],
}
REFUSED = "Send one {} header: this request has more than one."


def _token_headers(server, case: str) -> list[tuple[str, str]]:
    headers = [
        (name, f"Token {server.tokens['predict']}" if value == "predict" else value)
        for name, value in REPEATED[case]
    ]
    return [*headers, ("Host", "127.0.0.1"), ("Content-Type", "application/json")]


@pytest.mark.parametrize("case", REPEATED)
def test_a_repeated_authorization_header_gets_djangos_answer(servers, case):
    answers = [
        _with_headers(server, _token_headers(server, case), b'{"text": "hi"}')
        for server in (servers["asgi"], servers["wsgi"])
    ]
    _same(*answers)
    assert answers[0].status_code == 400
    assert answers[0].json()["message"] == REFUSED.format("Authorization")


@pytest.mark.parametrize("hosts", [("evil.example", "127.0.0.1"), ("127.0.0.1", "127.0.0.1")])
def test_a_repeated_host_header_is_refused_as_gunicorn_refuses_it(servers, hosts):
    """gunicorn refuses it itself, before Django, with a page of its own."""
    answers = []
    for server in (servers["asgi"], servers["wsgi"]):
        token = ("Authorization", f"Token {server.tokens['predict']}")
        headers = [*(("Host", host) for host in hosts), token, ("Content-Type", "application/json")]
        answers.append(_with_headers(server, headers, b'{"text": "hi"}'))
    assert [answer.status_code for answer in answers] == [400, 400]
    assert answers[0].json()["message"] == REFUSED.format("Host")


# Set per answer, or per route (the methods it allows): compared by name only.
PER_ANSWER = {"date", "x-request-id", "content-length", "allow"}


def _headers(response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers.items()}


def test_predictions_carry_every_header_another_route_gets(servers):
    """Every header a DRF route answers with, by name, and by value unless it is set per
    answer: on predictions answered on the event loop, a success and an error, each twice (a
    worker's first answer runs Django's middleware, the later ones reuse what it added)."""
    server = servers["asgi"]
    models = server.url.replace("/predict/", "/models/")
    read = {"Authorization": f"Token {server.tokens['read']}"}
    route = {
        200: requests.get(models, headers=read, timeout=10),
        400: requests.get(models, params={"page": 0}, headers=read, timeout=10),
    }
    bodies = {200: b'{"text": "lunch at 1?"}', 400: b"{}"}
    for answer_status, body in [*bodies.items(), *bodies.items()]:
        expected = _headers(route[answer_status])
        prediction = _answer(server, body, "predict")
        shown = _headers(prediction)
        assert (prediction.status_code, route[answer_status].status_code) == (answer_status,) * 2
        assert sorted(shown) == sorted(expected)
        assert {name: shown[name] for name in shown.keys() - PER_ANSWER} == {
            name: expected[name] for name in expected.keys() - PER_ANSWER
        }
        assert shown["allow"] == "POST, OPTIONS"


def test_a_caller_request_id_is_kept_and_a_new_one_given_otherwise(servers):
    server = servers["asgi"]
    kept = _answer(server, b'{"text": "hi"}', "predict", **{"X-Request-ID": "caller-id-42"})
    given = _answer(server, b'{"text": "hi"}', "predict")
    assert kept.headers["X-Request-ID"] == "caller-id-42"
    assert len(given.headers["X-Request-ID"]) == 16


def test_requests_of_another_shape_are_answered_by_django(servers):
    server = servers["asgi"]
    form = requests.post(
        server.url,
        data={"text": "hi"},
        headers={"Authorization": f"Token {server.tokens['predict']}"},
        timeout=10,
    )
    assert form.status_code == 415
    assert form.json()["message"].startswith("Unsupported media type")
    assert requests.get(server.url, timeout=10).status_code == 401


def test_the_budget_runs_out_alike(servers):
    """Last: spends what is left of each user's predict budget."""
    answers = {}
    for name, server in servers.items():
        for _ in range(PREDICT_BUDGET + 1):
            answers[name] = _answer(server, b'{"text": "hi"}', "predict")
            if answers[name].status_code == 429:
                break
    fast, django = answers["asgi"], answers["wsgi"]
    assert fast.status_code == django.status_code == 429
    # The same sentence; the seconds it names may differ by one between the two answers.
    assert re.sub(r"\d+", "N", fast.json()["message"]) == re.sub(
        r"\d+", "N", django.json()["message"]
    )
    assert 0 < int(fast.headers["Retry-After"]) <= 3600
    assert fast.json()["extra"] == {"retry_after_seconds": int(fast.headers["Retry-After"])}
