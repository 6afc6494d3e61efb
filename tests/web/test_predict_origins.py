"""Each prediction's id and origin across web: `POST /api/predict/` refuses a bad `reference`
before anything reaches the algorithm service, sends each text's reference, caller (the
token's fingerprint) and request id with it, on Django's PredictView and on the event loop's
path alike, and answers each prediction's id as the service gave it; `/v2` passes a
`reference` input on and its `prediction_ids` back.

A stand-in service on a real port answers and keeps what it was asked, as in
test_algorithm_retries.py; tests/processes/test_predict_asgi.py holds the two paths to the
same answers against the real service.
"""

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Iterator
from concurrent import futures
from types import SimpleNamespace

import grpc
import pytest
from rest_framework.test import APIClient

from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_pb2_grpc
from algorithm.v1 import prediction_pb2, prediction_pb2_grpc
from common import limits
from common import settings as common_settings
from common.inference_json import BYTES_LENGTH
from web.accounts.authentication import TokenGrant
from web.accounts.services import token_create
from web.algorithm_proxy.predict_asgi import PredictApp
from web.algorithm_proxy.views import PredictView

MODEL_ID = str(uuid.UUID(int=99))
REQUEST_ID = "req-42"


def _id(number: int) -> str:
    return str(uuid.UUID(int=number))


class _Service(
    prediction_pb2_grpc.PredictionServiceServicer, oip_pb2_grpc.GRPCInferenceServiceServicer
):
    """Labels every text "spam", gives each prediction the next id, echoes its reference as
    the real service does, and keeps the calls."""

    def __init__(self):
        self.calls = []
        self._ids = itertools.count(1)

    def Predict(self, request, context):
        self.calls.append(request)
        return prediction_pb2.PredictResponse(
            label="spam",
            scores={"spam": 1.0},
            model_id=MODEL_ID,
            prediction_id=_id(next(self._ids)),
            reference=request.reference,
        )

    def PredictBatch(self, request, context):
        self.calls.append(request)
        return prediction_pb2.PredictBatchResponse(
            predictions=[
                prediction_pb2.Prediction(
                    label="spam",
                    scores={"spam": 1.0},
                    prediction_id=_id(next(self._ids)),
                    reference=reference,
                )
                for reference in request.references or [""] * len(request.texts)
            ],
            model_id=MODEL_ID,
        )

    def ModelInfer(self, request, context):
        self.calls.append(request)
        count = request.inputs[0].shape[0]
        ids = [_id(next(self._ids)) for _ in range(count)]
        return oip_pb2.ModelInferResponse(
            model_name="textclf",
            model_version=MODEL_ID,
            parameters={"prediction_ids": oip_pb2.InferParameter(string_param=",".join(ids))},
            outputs=[
                oip_pb2.ModelInferResponse.InferOutputTensor(
                    name="label", datatype="BYTES", shape=[count]
                )
            ],
            raw_output_contents=[(BYTES_LENGTH.pack(4) + b"spam") * count],
        )


@contextlib.contextmanager
def serving(stand_in: _Service, settings) -> Iterator[_Service]:
    """The stand-in on a port of its own, web's client pointed at it."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    prediction_pb2_grpc.add_PredictionServiceServicer_to_server(stand_in, server)
    oip_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(stand_in, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # web's client is made per target: a new port, a new client, coalescing as set now.
    settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{port}"
    try:
        yield stand_in
    finally:
        server.stop(grace=None)


@pytest.fixture
def service(settings):
    with serving(_Service(), settings) as stand_in:
        yield stand_in


@pytest.fixture(params=[True, False], ids=["coalesced", "alone"])
def coalescing(request, monkeypatch):
    monkeypatch.setattr(common_settings, "PREDICT_COALESCING", request.param)
    return request.param


@pytest.fixture
def caller(db):
    """A REST client of a predict token that sends its own request id, and the caller the
    prediction log names it by."""
    token, key = token_create(username="alice", scopes=["predict"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_REQUEST_ID=REQUEST_ID)
    return SimpleNamespace(client=client, name=f"token:{token.fingerprint}")


def _one_call(text: str, reference: str, caller: str, coalesced: bool):
    """The call one text makes: alone, or as the batch of one it joins."""
    if coalesced:
        return prediction_pb2.PredictBatchRequest(
            texts=[text], references=[reference], callers=[caller], request_ids=[REQUEST_ID]
        )
    return prediction_pb2.PredictRequest(
        text=text, reference=reference, caller=caller, request_id=REQUEST_ID
    )


LONGEST = "r" * limits.MAX_REFERENCE_CHARS


def test_one_prediction_carries_its_id_and_sends_its_origin(service, caller, coalescing):
    response = caller.client.post(
        "/api/predict/", {"text": "win cash", "reference": LONGEST}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "label": "spam",
        "scores": {"spam": 1.0},
        "model_id": MODEL_ID,
        "prediction_id": _id(1),
        "reference": LONGEST,
    }
    assert service.calls == [_one_call("win cash", LONGEST, caller.name, coalescing)]


def test_a_batch_sends_each_texts_reference_and_answers_each_id(service, caller):
    response = caller.client.post(
        "/api/predict/",
        {"texts": ["a", "b", "c"], "references": ["t-1", "", "t-3"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert [(p["prediction_id"], p["reference"]) for p in response.json()] == [
        (_id(1), "t-1"),
        (_id(2), ""),
        (_id(3), "t-3"),
    ]
    assert service.calls == [
        prediction_pb2.PredictBatchRequest(
            texts=["a", "b", "c"],
            references=["t-1", "", "t-3"],
            callers=[caller.name] * 3,
            request_ids=[REQUEST_ID] * 3,
        )
    ]


def test_texts_without_references_send_none_but_still_their_caller(service, caller):
    response = caller.client.post("/api/predict/", {"texts": ["a", "b"]}, format="json")

    assert response.status_code == 200, response.json()
    (call,) = service.calls
    assert (list(call.references), list(call.callers), list(call.request_ids)) == (
        [],
        [caller.name] * 2,
        [REQUEST_ID] * 2,
    )


TOO_LONG = "r" * (limits.MAX_REFERENCE_CHARS + 1)
LENGTH_MESSAGE = f"Ensure this field has no more than {limits.MAX_REFERENCE_CHARS} characters."


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"text": "a", "reference": TOO_LONG}, {"reference": [LENGTH_MESSAGE]}),
        (
            {"texts": ["a", "b"], "references": ["t-1", TOO_LONG]},
            {"references[1]": [LENGTH_MESSAGE]},
        ),
        (
            {"texts": ["a", "b"], "references": ["t-1"]},
            {
                "references": [
                    "Send one reference per text (an empty string for none): 2 texts, 1 references."
                ]
            },
        ),
        (
            {"texts": ["a"], "reference": "t-1"},
            {"reference": ['Goes with "text"; with "texts", send "references", one per text.']},
        ),
        (
            {"text": "a", "references": ["t-1"]},
            {"references": ['Go with "texts"; with "text", send one "reference".']},
        ),
        ({"text": "a", "reference": 7}, {"reference": ["Not a valid string."]}),
        ({"text": "a", "reference": "t\x00"}, {"reference": ["Null characters are not allowed."]}),
    ],
    ids=[
        "too long",
        "one of a batch too long",
        "not one per text",
        "one reference with texts",
        "references with one text",
        "not a string",
        "a NUL",
    ],
)
def test_a_bad_reference_is_a_400_naming_it_and_reaches_no_service(service, caller, body, fields):
    response = caller.client.post("/api/predict/", body, format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == fields
    assert service.calls == []


def test_the_event_loop_path_sends_and_answers_as_the_view_does(service, coalescing):
    """PredictApp's call to the service with the view's own parameters: the rest of that path
    is the view's (tests/processes/test_predict_asgi.py)."""
    request = SimpleNamespace(
        auth=TokenGrant(1, ("predict",), None, "5f1c09ab"), request_id=REQUEST_ID
    )
    one = PredictView.params({"text": "win cash", "reference": "t-1"}, request)
    batch = PredictView.params({"texts": ["a", "b"], "references": ["t-2", "t-3"]}, request)

    async def answers():
        app = PredictApp()
        try:
            return await app.predictions(one), await app.predictions(batch)
        finally:
            await app.close()

    answered_one, answered_batch = asyncio.run(answers())

    assert answered_one == {
        "label": "spam",
        "scores": {"spam": 1.0},
        "model_id": MODEL_ID,
        "prediction_id": _id(1),
        "reference": "t-1",
    }
    assert [(p["prediction_id"], p["reference"]) for p in answered_batch] == [
        (_id(2), "t-2"),
        (_id(3), "t-3"),
    ]
    assert service.calls == [
        _one_call("win cash", "t-1", "token:5f1c09ab", coalescing),
        prediction_pb2.PredictBatchRequest(
            texts=["a", "b"],
            references=["t-2", "t-3"],
            callers=["token:5f1c09ab"] * 2,
            request_ids=[REQUEST_ID] * 2,
        ),
    ]


def test_v2_passes_references_and_the_caller_on_and_answers_the_prediction_ids(service, caller):
    texts = {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}
    references = {"name": "reference", "datatype": "BYTES", "shape": [2], "data": ["t-1", "t-2"]}

    response = caller.client.post(
        "/v2/models/textclf/infer", {"inputs": [texts, references]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["parameters"] == {"prediction_ids": f"{_id(1)},{_id(2)}"}
    (call,) = service.calls
    assert [(tensor.name, list(tensor.contents.bytes_contents)) for tensor in call.inputs] == [
        ("text", [b"a", b"b"]),
        ("reference", [b"t-1", b"t-2"]),
    ]
    # Who asked, for the prediction log, as REST predictions pass it.
    assert {name: value.string_param for name, value in call.parameters.items()} == {
        "caller": caller.name,
        "request_id": REQUEST_ID,
    }
