"""Which requests web answers on its event loop (web/algorithm_proxy/predict_asgi.py) and which
it leaves to Django's PredictView: only the usual shape goes the fast way, so every unusual
one gets Django's own answer (tests/processes/test_predict_asgi.py compares the two)."""

import pytest

from web.algorithm_proxy.predict_asgi import PredictApp

USUAL = {
    "path": "/api/predict/",
    "method": "POST",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", b"17"),
    ],
}


def scope(**changes) -> dict:
    headers = dict(USUAL["headers"])
    headers.update(changes.pop("headers", {}))
    for name in changes.pop("without", ()):
        headers.pop(name)
    return {"type": "http", **USUAL, **changes, "headers": list(headers.items())}


def test_a_json_prediction_is_answered_on_the_event_loop():
    assert PredictApp().serves(scope())
    assert PredictApp().serves(scope(headers={b"content-type": b"application/json; charset=utf-8"}))


@pytest.mark.parametrize(
    "request_scope",
    [
        scope(method="GET"),
        scope(path="/api/predict"),
        scope(path="/api/train/"),
        scope(headers={b"content-type": b"application/x-www-form-urlencoded"}),
        scope(without=[b"content-type"]),
        scope(without=[b"content-length"], headers={b"transfer-encoding": b"chunked"}),
        scope(headers={b"transfer-encoding": b"chunked"}),
        scope(headers={b"host": b"evil.example"}),
        scope(without=[b"host"]),
        {**scope(), "headers": [*scope()["headers"], (b"host", b"evil.example")]},
    ],
    ids=[
        "GET",
        "no slash",
        "another endpoint",
        "a form",
        "no media type",
        "chunked",
        "chunked with a length",
        "a foreign host",
        "no host",
        "a repeated header",
    ],
)
def test_any_other_request_goes_to_django(request_scope):
    assert not PredictApp().serves(request_scope)
