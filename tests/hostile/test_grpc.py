"""Attacks on the algorithm service's open calls (gRPC health, the inference protocol's
readiness) and on its JSON readers, each held while legitimate traffic runs."""

import re
import threading
import time
from concurrent import futures

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from algorithm.domain.store import ModelStore
from algorithm.inference import grpc_predict_v2_pb2 as oip
from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_grpc
from algorithm.serving.grpc_server import MAX_HEALTH_WATCHERS
from algorithm.v1 import prediction_pb2, prediction_pb2_grpc
from tests import support
from tests.hostile import bounds

WATCH_STREAMS = 64
WATCH_CHANNELS = 4
VERSIONS = 7
READY_CALLS = 70
NESTING = 990


def _first_message(stream, outcomes: list, index: int) -> None:
    try:
        outcomes[index] = next(stream).status
    except grpc.RpcError as error:
        outcomes[index] = error.code()


def test_open_health_watch_streams_leave_predictions_their_threads(stack):
    # Each Watch held one of the server's 16 threads: 16 of them stopped every prediction.
    channels = [grpc.insecure_channel(stack.grpc) for _ in range(WATCH_CHANNELS)]
    streams, readers = [], []
    outcomes: list = [None] * WATCH_STREAMS
    try:
        with bounds.held(stack, "64 open health Watch streams") as attack:
            for index in range(WATCH_STREAMS):
                stub = health_pb2_grpc.HealthStub(channels[index % WATCH_CHANNELS])
                streams.append(stub.Watch(health_pb2.HealthCheckRequest(service="")))
                readers.append(
                    threading.Thread(target=_first_message, args=(streams[-1], outcomes, index))
                )
                readers[-1].start()
            answered_by = time.monotonic() + 5
            for reader in readers:
                reader.join(timeout=max(0, answered_by - time.monotonic()))
            attack.keep(3)
    finally:
        for stream in streams:
            stream.cancel()
        for channel in channels:
            channel.close()
    serving = outcomes.count(health_pb2.HealthCheckResponse.SERVING)
    refused = outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert (serving, refused) == (MAX_HEALTH_WATCHERS, WATCH_STREAMS - MAX_HEALTH_WATCHERS)


def _model_loads(stack) -> float:
    text = requests.get(stack.metrics["algorithm"], timeout=5).text
    found = re.search(r'^textclf_model_loads_total\{outcome="loaded"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
def unloaded_versions(stack) -> list[str]:
    rows = [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")][:300]
    store = ModelStore(stack.env["MODEL_DIR"])
    return [support.publish_model(store, rows, activate=False) for _ in range(VERSIONS + 1)]


def test_anonymous_readiness_loads_no_version_and_a_version_loads_once(stack, unloaded_versions):
    # ModelReady, open to anyone, loaded the version it named (checksums and unpickling),
    # and concurrent first requests for one version each loaded it.
    probed, predicted = unloaded_versions[:VERSIONS], unloaded_versions[VERSIONS]
    shim = requests.Session()
    answers = []
    with (
        grpc.insecure_channel(stack.grpc) as channel,
        bounds.held(stack, "70 anonymous ModelReady calls per transport, 7 versions") as attack,
    ):
        inference = oip_grpc.GRPCInferenceServiceStub(channel)
        before = _model_loads(stack)
        for index in range(READY_CALLS):
            version = probed[index % VERSIONS]
            request = oip.ModelReadyRequest(name="textclf", version=version)
            answers.append(("grpc", inference.ModelReady(request, timeout=5).ready))
            path = f"/v2/models/textclf/versions/{version}/ready"
            for transport, session, base in (
                ("web", requests, stack.web),
                ("shim", shim, stack.shim),
            ):
                response = session.get(f"{base}{path}", timeout=5)
                answers.append((transport, response.status_code, response.json()["ready"]))
        after_ready = _model_loads(stack)
        attack.keep(1)
    assert after_ready == before
    assert answers.count(("grpc", False)) == READY_CALLS
    assert answers.count(("web", 400, False)) == answers.count(("shim", 400, False)) == READY_CALLS

    with support.service_channel(stack.grpc) as channel:
        prediction = prediction_pb2_grpc.PredictionServiceStub(channel)
        start = threading.Barrier(8)

        def predict(_index: int) -> str:
            start.wait(timeout=5)
            request = prediction_pb2.PredictRequest(text="win a prize", model_id=predicted)
            return prediction.Predict(request, timeout=10).model_id

        with futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(predict, range(8))) == [predicted] * 8
    assert _model_loads(stack) == after_ready + 1


def test_json_nested_too_deeply_is_a_400_from_web_and_the_shim(stack):
    # Nested 990 deep, the body passed Python's json only to fail it with RecursionError,
    # which the shim's inference route let through: a 500 there, a 502 from web. Web reads
    # the protocol's JSON itself, with the parser and depth bound of every other route.
    data = "[" * NESTING + '"win a prize"' + "]" * NESTING
    tensor = '{"name": "text", "datatype": "BYTES", "shape": [1], "data": ' + data + "}"
    body = '{"inputs": [' + tensor + "]}"
    path = "/v2/models/textclf/infer"
    callers = (
        (f"{stack.web}{path}", stack.predict_headers),
        (f"{stack.shim}{path}", {"Authorization": support.service_authorization()}),
    )
    answers = []
    with bounds.held(stack, "JSON nested 990 deep to the inference protocol") as attack:
        for _ in range(10):
            for url, headers in callers:
                response = requests.post(
                    url,
                    data=body,
                    headers={**headers, "Content-Type": "application/json"},
                    timeout=5,
                )
                answers.append((response.status_code, response.json()))
        attack.keep(3)
    assert (
        answers
        == [
            (400, {"error": "JSON parse error - the body is nested too deeply."}),
            (400, {"error": "The body is JSON nested too deeply to read."}),
        ]
        * 10
    )
