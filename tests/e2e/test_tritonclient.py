"""tritonclient's HTTP client, with web's API token, against the inference protocol's REST in
web."""

import pytest
import requests

from tests import support
from tests.e2e.conftest import SAMPLE_TEXTS

pytestmark = pytest.mark.slow


def test_tritonclients_http_client_predicts_through_web_with_a_token(stack):
    answers = [
        requests.post(
            f"{stack['web']}/api/predict/",
            json={"text": text},
            headers=stack["headers"],
            timeout=10,
        ).json()
        for text in SAMPLE_TEXTS
    ]
    seen = support.run_inference_client(
        "check_client_http.py",
        stack["web"].removeprefix("http://"),
        answers[0]["model_id"],
        *SAMPLE_TEXTS,
        env={"INFERENCE_AUTHORIZATION": f"Token {stack['token']}"},
    )

    assert (seen["live"], seen["ready"], seen["model_ready"], seen["version_ready"]) == (
        True,
        True,
        True,
        True,
    )
    assert seen["labels"] == [answer["label"] for answer in answers]
    for row, answer in zip(seen["probabilities"], answers, strict=True):
        assert row == pytest.approx([answer["scores"][c] for c in seen["class_order"]], abs=1e-6)
    assert seen["errors"] == {
        "no_credential": "401",
        "unknown_model": "404",
        "unknown_version": "404",
        "wrong_datatype": "400",
    }
