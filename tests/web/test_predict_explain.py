"""`"explain": true` on `POST /api/predict/`: sent to the algorithm service as the call's
`explain`, one text alone (never in a coalesced batch), texts as one batch; each answer carries
the service's explanation as it gave it, and answers not asked for one carry none. `explain`
must be true or false, and a request may ask to explain at most MAX_EXPLAIN_TEXTS texts: a
400 naming the field, before anything reaches the service.

A stand-in service on a real port, as in test_predict_origins.py.
"""

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from algorithm.v1 import prediction_pb2
from common import limits
from common import settings as common_settings
from tests.web.test_predict_origins import _Service, serving
from web.accounts.authentication import TokenGrant
from web.accounts.services import token_create
from web.algorithm_proxy.predict_asgi import PredictApp
from web.algorithm_proxy.views import PredictView

EXPLANATION = {
    "runtime": "fast_linear",
    "predicted": {
        "label": "spam",
        "decision_value": 1.5,
        "intercept": -0.25,
        "terms": [{"term": "win", "contribution": 1.0}, {"term": "cash", "contribution": 0.5}],
        "rest": 0.25,
    },
    "runner_up": {
        "label": "ham",
        "decision_value": -1.5,
        "intercept": 0.25,
        "terms": [{"term": "win", "contribution": -1.0}, {"term": "cash", "contribution": -0.5}],
        "rest": -0.25,
    },
    "unavailable": None,
}


class _Explaining(_Service):
    """The stand-in service, explaining every prediction of a call that asks."""

    def Predict(self, request, context):
        reply = super().Predict(request, context)
        if request.explain:
            reply.explanation.CopyFrom(prediction_pb2.Explanation(**EXPLANATION))
        return reply

    def PredictBatch(self, request, context):
        reply = super().PredictBatch(request, context)
        for prediction in reply.predictions if request.explain else ():
            prediction.explanation.CopyFrom(prediction_pb2.Explanation(**EXPLANATION))
        return reply


@pytest.fixture
def caller(db):
    """A REST client of a predict token."""
    _, key = token_create(username="alice", scopes=["predict"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return SimpleNamespace(client=client)


@pytest.fixture(params=[True, False], ids=["coalesced", "alone"])
def coalescing(request, monkeypatch):
    monkeypatch.setattr(common_settings, "PREDICT_COALESCING", request.param)


@pytest.fixture
def service(settings):
    with serving(_Explaining(), settings) as stand_in:
        yield stand_in


def test_one_text_explained_is_sent_alone_and_answered_with_its_explanation(
    service, caller, coalescing
):
    body = {"text": "win cash now", "explain": True}
    response = caller.client.post("/api/predict/", body, format="json")

    assert response.status_code == 200
    assert response.json()["explanation"] == EXPLANATION
    # Alone even with coalescing on: an explanation is never computed for a shared batch.
    (call,) = service.calls
    assert isinstance(call, prediction_pb2.PredictRequest)
    assert call.explain and call.text == "win cash now"


def test_a_prediction_not_asked_to_explain_has_no_explanation(service, caller, coalescing):
    for body in ({"text": "win cash now"}, {"text": "win cash now", "explain": False}):
        response = caller.client.post("/api/predict/", body, format="json")
        assert response.status_code == 200
        assert "explanation" not in response.json()
    batch = caller.client.post("/api/predict/", {"texts": ["a", "b"]}, format="json")
    assert ["explanation" in answer for answer in batch.json()] == [False, False]
    assert not any(call.explain for call in service.calls)


def test_texts_explained_are_one_batch_each_answer_explained(service, caller):
    texts = [f"text {number}" for number in range(limits.MAX_EXPLAIN_TEXTS)]
    response = caller.client.post("/api/predict/", {"texts": texts, "explain": True}, format="json")

    assert response.status_code == 200
    answers = response.json()
    assert len(answers) == limits.MAX_EXPLAIN_TEXTS
    assert all(answer["explanation"] == EXPLANATION for answer in answers)
    (call,) = service.calls
    assert call.explain and list(call.texts) == texts


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("true", "Must be true or false."),
        (1, "Must be true or false."),
        (0, "Must be true or false."),
        ([], "Must be true or false."),
        (None, "This field may not be null."),
    ],
)
def test_explain_must_be_true_or_false(service, caller, value, message):
    body = {"text": "win cash now", "explain": value}
    response = caller.client.post("/api/predict/", body, format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"explain": [message]}
    assert service.calls == []


def test_more_texts_than_a_request_may_explain_is_a_400_naming_the_bound(service, caller):
    texts = ["win cash"] * (limits.MAX_EXPLAIN_TEXTS + 1)
    response = caller.client.post("/api/predict/", {"texts": texts, "explain": True}, format="json")

    assert response.status_code == 400
    (message,) = response.json()["extra"]["fields"]["explain"]
    assert f"at most {limits.MAX_EXPLAIN_TEXTS} texts" in message
    assert service.calls == []
    # Without explain the same texts are answered.
    response = caller.client.post("/api/predict/", {"texts": texts}, format="json")
    assert response.status_code == 200


def test_the_event_loop_path_sends_explain_as_the_view_does(service, coalescing):
    request = SimpleNamespace(auth=TokenGrant(1, ("predict",), None, "5f1c09ab"), request_id="r")
    one = PredictView.params({"text": "win cash", "explain": True}, request)
    batch = PredictView.params({"texts": ["a", "b"], "explain": True}, request)

    async def answers():
        app = PredictApp()
        try:
            return await app.predictions(one), await app.predictions(batch)
        finally:
            await app.close()

    answered_one, answered_batch = asyncio.run(answers())

    assert answered_one["explanation"] == EXPLANATION
    assert uuid.UUID(answered_one["prediction_id"])
    assert [answer["explanation"] for answer in answered_batch] == [EXPLANATION] * 2
    assert [type(call).__name__ for call in service.calls] == [
        "PredictRequest",
        "PredictBatchRequest",
    ]
    assert all(call.explain for call in service.calls)
