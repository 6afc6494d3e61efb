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


def test_tritonclient_gets_the_labels_and_probabilities_predict_gives(
    algorithm_services, prediction_stub, active_model_id, served_model_id
):
    predictions = [
        prediction_stub.Predict(prediction_pb2.PredictRequest(text=text), timeout=5)
        for text in TEXTS
    ]
    seen = support.run_inference_client(
        "check_client.py",
        algorithm_services.grpc_target,
        served_model_id,
        *TEXTS,
        env={"INFERENCE_AUTHORIZATION": support.service_authorization()},
    )
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
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": ["-1"]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": ["-1"]},
            {"name": "probabilities", "datatype": "FP32", "shape": ["-1", "2"]},
        ],
    }
    assert seen["model_version"] == active_model_id
    assert seen["labels"] == [p.label for p in predictions] == ["spam", "ham", "spam"]
    assert seen["probabilities_dtype"] == "float32"
    classes = seen["class_order"]
    assert classes == ["ham", "spam"]
    for row, prediction in zip(seen["probabilities"], predictions, strict=True):
        assert row == pytest.approx([prediction.scores[label] for label in classes], abs=1e-6)
    assert seen["pinned_version"] == served_model_id
    assert seen["pinned_outputs"] == ["label"]
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
    predictions = [
        prediction_stub.Predict(prediction_pb2.PredictRequest(text=text), timeout=5)
        for text in TEXTS
    ]
    seen = support.run_inference_client(
        "check_client_http.py",
        algorithm_services.http_url.removeprefix("http://"),
        served_model_id,
        *TEXTS,
        env={"INFERENCE_AUTHORIZATION": support.service_authorization()},
    )

    assert_http_client_saw(seen, predictions, active_model_id, served_model_id, no_credential="401")


def assert_http_client_saw(seen, predictions, active_model_id, served_model_id, no_credential):
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
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
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
    assert seen["errors"] == {
        "no_credential": no_credential,
        "unknown_model": "404",
        "unknown_version": "404",
        "wrong_datatype": "400",
    }
