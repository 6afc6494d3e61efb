"""tritonclient, the standard inference client from PyPI, against the real gRPC server: its
answers agree with algorithm.v1's Predict on the same texts."""

import pytest

from algorithm.v1 import prediction_pb2
from tests import support

TEXTS = [
    "Free entry! Win cash now, text WIN to 80086",
    "see you at dinner",
    "URGENT: your mobile number has won a prize, call to claim",
]


def predictions_of(prediction_stub):
    return [
        prediction_stub.Predict(prediction_pb2.PredictRequest(text=text), timeout=5)
        for text in TEXTS
    ]


def test_tritonclient_gets_the_labels_and_probabilities_predict_gives(
    algorithm_services, prediction_stub, active_model_id, served_model_id
):
    predictions = predictions_of(prediction_stub)
    seen = support.run_inference_client(
        "check_client.py",
        algorithm_services.grpc_target,
        served_model_id,
        *TEXTS,
        env={"INFERENCE_AUTHORIZATION": support.service_authorization()},
    )

    # The gRPC metadata's JSON writes int64 shapes as strings.
    assert_client_saw(seen, predictions, active_model_id, served_model_id, dimension=str)
    assert seen["probabilities_dtype"] == "float32"
    assert seen["pinned_labels"] == seen["labels"]
    assert seen["errors"] == {
        "no_credential": "StatusCode.UNAUTHENTICATED",
        "unknown_model": "StatusCode.NOT_FOUND",
        "unknown_version": "StatusCode.NOT_FOUND",
        "wrong_datatype": "StatusCode.INVALID_ARGUMENT",
    }


def test_tritonclients_http_client_gets_the_same_from_the_shims_rest_form(
    algorithm_services, prediction_stub, active_model_id, served_model_id
):
    predictions = predictions_of(prediction_stub)
    seen = support.run_inference_client(
        "check_client_http.py",
        algorithm_services.http_url.removeprefix("http://"),
        served_model_id,
        *TEXTS,
        env={"INFERENCE_AUTHORIZATION": support.service_authorization()},
    )

    assert_client_saw(seen, predictions, active_model_id, served_model_id, dimension=int)
    assert seen["errors"] == HTTP_CLIENT_ERRORS


# What tritonclient's HTTP client meets for each wrong call, from the shim or from web.
HTTP_CLIENT_ERRORS = {
    "no_credential": "401",
    "unknown_model": "404",
    "unknown_version": "404",
    "wrong_datatype": "400",
}


def assert_client_saw(seen, predictions, active_model_id, served_model_id, dimension):
    """What both transports must show: open probes, the metadata, and Predict's answers."""
    assert (seen["live"], seen["ready"], seen["model_ready"], seen["version_ready"]) == (
        True,
        True,
        True,
        True,
    )
    assert seen["server"]["name"] == "textclf"
    assert seen["model"] == {
        "name": "textclf",
        "versions": [active_model_id],
        "platform": "scikit-learn",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [dimension(-1)]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [dimension(-1)]},
            {"name": "probabilities", "datatype": "FP32", "shape": [dimension(-1), dimension(2)]},
        ],
    }
    assert seen["model_version"] == active_model_id
    assert seen["labels"] == [p.label for p in predictions] == ["spam", "ham", "spam"]
    classes = seen["class_order"]
    assert classes == ["ham", "spam"]
    for row, prediction in zip(seen["probabilities"], predictions, strict=True):
        assert row == pytest.approx([prediction.scores[label] for label in classes], abs=1e-6)
    assert seen["pinned_version"] == served_model_id
    assert seen["pinned_outputs"] == ["label"]
