"""The Flask shim never answers a traceback: an unexpected error is a logged JSON 500 that
names the request id to quote."""

import logging

from algorithm.serving import http_shim
from tests import support


def test_an_unexpected_error_is_a_json_500_with_the_request_id(monkeypatch, caplog):
    def explode(**_kwargs):
        raise RuntimeError("secret=hunter2")

    monkeypatch.setattr(http_shim.prediction, "predict", explode)
    client = http_shim.app.test_client()
    with caplog.at_level(logging.ERROR, logger="algorithm.serving.http_shim"):
        response = client.post(
            "/predict",
            json={"text": "hi"},
            headers={"X-Request-ID": "req-7", "Authorization": support.service_authorization()},
        )
    assert response.status_code == 500
    assert response.get_json() == {
        "message": "Internal error; the server log has the details.",
        "extra": {"request_id": "req-7"},
    }
    assert b"hunter2" not in response.data
    (record,) = [r for r in caplog.records if r.name == "algorithm.serving.http_shim"]
    assert record.exc_info[0] is RuntimeError
