"""Explanations from the real serving processes: gRPC Predict and PredictBatch and the shim's
/predict answer them, by the runtime that serves the version, each label's decision equal to
scikit-learn's own; an explained prediction is logged like any other; and a call may ask to
explain at most MAX_EXPLAIN_TEXTS texts."""

import math

import grpc
import numpy as np
import pytest

from algorithm.domain import ml
from algorithm.tools.local_classifier import TextClassifier
from algorithm.v1 import prediction_pb2
from common import limits
from common.proto_json import as_json
from tests.algorithm.test_explanations import scikit_learn_decisions
from tests.processes.test_prediction_log import logged

pytestmark = pytest.mark.slow

TEXTS = [
    "WINNER!! You have won a free prize, call 09061701461 now to claim",
    "Are we still on for dinner tonight?",
    "qzxv wkrpt",
]


@pytest.fixture(scope="module")
def fast_model_id(algorithm_services, served_model_id, sms_rows):
    """A logistic regression version whose training-time comparison passed: served by the
    fast runtime. Trained as the command line does, which activates it: the active version
    is put back."""
    store = algorithm_services.store
    previous = store.read_active_id()
    texts, labels = zip(*sms_rows, strict=True)
    model_id = TextClassifier(store).train(texts, labels, algorithm="logistic_regression")[
        "model_id"
    ]
    store.activate(previous or served_model_id)
    return model_id


@pytest.fixture(params=["scikit-learn", "fast_linear"])
def version(request, served_model_id):
    """A version's id and the runtime that serves it (the SMS version was published without
    the comparison's record, as versions trained before it were)."""
    if request.param == "fast_linear":
        return request.getfixturevalue("fast_model_id"), request.param
    return served_model_id, request.param


def assert_exact(algorithm_services, model_id: str, texts: list[str], explained: list[dict]):
    """Each label's intercept + terms + rest is its decision value, which is scikit-learn's."""
    model = algorithm_services.store.load(model_id)
    labels = ml.class_labels(model.classifier)
    reference = scikit_learn_decisions(model, texts)
    for row, explanation in zip(reference, explained, strict=True):
        for part in (explanation["predicted"], explanation["runner_up"]):
            terms = math.fsum(term["contribution"] for term in part["terms"])
            assert abs(part["intercept"] + terms + part["rest"] - part["decision_value"]) <= 1e-9
            assert abs(part["decision_value"] - row[labels.index(part["label"])]) <= 1e-9
        assert explanation["runner_up"]["decision_value"] == pytest.approx(
            -explanation["predicted"]["decision_value"]
        )


def test_grpc_predict_and_predict_batch_explain_by_the_serving_runtime(
    algorithm_services, prediction_stub, version
):
    model_id, runtime = version
    one = prediction_stub.Predict(
        prediction_pb2.PredictRequest(text=TEXTS[0], model_id=model_id, explain=True), timeout=5
    )
    assert one.HasField("explanation")
    explanation = as_json(one.explanation)
    assert explanation["runtime"] == runtime and explanation["unavailable"] is None
    assert explanation["predicted"]["label"] == one.label == "spam"
    assert explanation["runner_up"]["label"] == "ham"
    assert 0 < len(explanation["predicted"]["terms"]) <= 10
    batch = prediction_stub.PredictBatch(
        prediction_pb2.PredictBatchRequest(texts=TEXTS, model_id=model_id, explain=True),
        timeout=5,
    )
    explained = [as_json(prediction.explanation) for prediction in batch.predictions]
    assert explained[0] == explanation
    assert [e["predicted"]["label"] for e in explained] == [p.label for p in batch.predictions]
    assert_exact(algorithm_services, model_id, TEXTS, explained)
    # A text of no known word: its decision is the intercept alone.
    assert explained[2]["predicted"]["terms"] == []
    # Asked for nothing, answered nothing.
    plain = prediction_stub.Predict(
        prediction_pb2.PredictRequest(text=TEXTS[0], model_id=model_id), timeout=5
    )
    assert not plain.HasField("explanation")
    assert dict(plain.scores) == pytest.approx(dict(one.scores))


def test_the_shim_explains_as_grpc_does(algorithm_services, prediction_stub, version):
    model_id, _ = version
    url = f"{algorithm_services.http_url}/predict"
    body = {"text": TEXTS[0], "model_id": model_id, "explain": True}
    one = algorithm_services.shim.post(url, json=body, timeout=5).json()
    by_grpc = prediction_stub.Predict(
        prediction_pb2.PredictRequest(text=TEXTS[0], model_id=model_id, explain=True), timeout=5
    )
    assert one["explanation"] == as_json(by_grpc.explanation)

    body = {"texts": TEXTS, "model_id": model_id, "explain": True}
    batch = algorithm_services.shim.post(url, json=body, timeout=5).json()
    explained = [prediction["explanation"] for prediction in batch["predictions"]]
    assert_exact(algorithm_services, model_id, TEXTS, explained)
    plain = algorithm_services.shim.post(url, json={"text": TEXTS[0]}, timeout=5).json()
    assert "explanation" not in plain


def test_an_explained_prediction_is_logged_like_any_other(
    algorithm_services, prediction_stub, served_model_id
):
    one = prediction_stub.Predict(
        prediction_pb2.PredictRequest(
            text=TEXTS[0], model_id=served_model_id, reference="explained-1", explain=True
        ),
        timeout=5,
    )
    rows = logged(algorithm_services, [one.prediction_id])
    assert rows[one.prediction_id][2:] == ("explained-1", "", "spam")


def test_a_call_explains_at_most_max_explain_texts(
    algorithm_services, prediction_stub, served_model_id
):
    texts = ["win cash now"] * (limits.MAX_EXPLAIN_TEXTS + 1)
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.PredictBatch(
            prediction_pb2.PredictBatchRequest(texts=texts, explain=True), timeout=5
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == (
        f"texts has {len(texts)} items; explain takes at most {limits.MAX_EXPLAIN_TEXTS} per "
        "call: send the others in further calls, or without explain."
    )
    url = f"{algorithm_services.http_url}/predict"
    refused = algorithm_services.shim.post(url, json={"texts": texts, "explain": True}, timeout=5)
    assert refused.status_code == 400
    assert refused.json()["message"] == raised.value.details()
    wrong = algorithm_services.shim.post(url, json={"text": "hi", "explain": "yes"}, timeout=5)
    assert (wrong.status_code, wrong.json()["message"]) == (400, "explain must be true or false.")
    # The most a call may explain is answered, every text explained.
    reply = prediction_stub.PredictBatch(
        prediction_pb2.PredictBatchRequest(texts=texts[1:], model_id=served_model_id, explain=True),
        timeout=10,
    )
    assert all(p.HasField("explanation") for p in reply.predictions)
    assert np.isfinite([p.explanation.predicted.decision_value for p in reply.predictions]).all()


def test_rest_answers_the_services_explanation(web_client, prediction_stub, served_model_id):
    body = {"text": TEXTS[0], "model_id": served_model_id, "explain": True}
    one = web_client.post("/api/predict/", body, format="json").json()
    by_grpc = prediction_stub.Predict(
        prediction_pb2.PredictRequest(text=TEXTS[0], model_id=served_model_id, explain=True),
        timeout=5,
    )
    assert one["explanation"] == as_json(by_grpc.explanation)
    body = {"texts": TEXTS, "model_id": served_model_id, "explain": True}
    batch = web_client.post("/api/predict/", body, format="json").json()
    assert [answer["explanation"]["predicted"]["label"] for answer in batch] == [
        answer["label"] for answer in batch
    ]
