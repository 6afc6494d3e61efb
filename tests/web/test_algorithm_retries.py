"""Web's gRPC channel retries a prediction that a vanished replica failed, and nothing else.

A stand-in servicer on a real port plays the replica, so each test decides what the first
attempt meets and counts the attempts the channel makes.
"""

from concurrent import futures

import grpc
import pytest

from algorithm.v1 import (
    prediction_pb2,
    prediction_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)
from common.coalescing import INTERNAL
from common.wire import NO_RETRY_METADATA, SERVICE_ERROR_METADATA
from web.algorithm_proxy.client import AlgorithmClient
from web.algorithm_proxy.grpc_errors import AlgorithmError


class _Replica(
    prediction_pb2_grpc.PredictionServiceServicer, training_pb2_grpc.TrainingServiceServicer
):
    """Fails the first `failures` calls as told, then answers."""

    def __init__(self, failures: int, service_answer: bool, code=grpc.StatusCode.UNAVAILABLE):
        self.failures = failures
        self.service_answer = service_answer
        self.code = code
        self.attempts = 0

    def _maybe_fail(self, context):
        self.attempts += 1
        if self.attempts <= self.failures:
            if self.service_answer:
                context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
                context.abort(grpc.StatusCode.UNAVAILABLE, "Too busy to answer in time.")
            # What a client sees from a replica shutting down or gone mid-call.
            context.abort(self.code, "Socket closed")

    def PredictBatch(self, request, context):
        self._maybe_fail(context)
        return prediction_pb2.PredictBatchResponse(
            predictions=[prediction_pb2.Prediction(label="spam", scores={"spam": 1.0})],
            model_id="m",
        )

    def Train(self, request, context):
        self._maybe_fail(context)
        return training_pb2.TrainResponse(job=training_pb2.Job(job_id="j"))


@pytest.fixture
def replica_at():
    servers = []

    def start(replica: _Replica) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_pb2_grpc.add_PredictionServiceServicer_to_server(replica, server)
        training_pb2_grpc.add_TrainingServiceServicer_to_server(replica, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(grace=None)


def test_a_prediction_a_vanished_replica_failed_is_tried_again(replica_at):
    replica = _Replica(failures=2, service_answer=False)
    client = AlgorithmClient(replica_at(replica))
    answer = client.predict_batch(texts=["win cash"], model_id="", origins=[INTERNAL])
    assert answer["predictions"][0]["label"] == "spam"
    assert replica.attempts == 3


def test_a_prediction_a_stopping_replica_cancelled_is_tried_again(replica_at):
    replica = _Replica(failures=1, service_answer=False, code=grpc.StatusCode.CANCELLED)
    client = AlgorithmClient(replica_at(replica))
    answer = client.predict_batch(texts=["win cash"], model_id="", origins=[INTERNAL])
    assert answer["model_id"] == "m"
    assert replica.attempts == 2


def test_the_services_own_busy_answer_is_not_retried(replica_at):
    replica = _Replica(failures=1, service_answer=True)
    client = AlgorithmClient(replica_at(replica))
    with pytest.raises(AlgorithmError) as raised:
        client.predict_batch(texts=["win cash"], model_id="", origins=[INTERNAL])
    assert raised.value.status_code == 503
    assert str(raised.value.detail) == "Too busy to answer in time."
    assert replica.attempts == 1


def test_retries_stop_at_four_attempts_and_the_client_gets_a_503(replica_at):
    replica = _Replica(failures=100, service_answer=False)
    client = AlgorithmClient(replica_at(replica))
    with pytest.raises(AlgorithmError) as raised:
        client.predict_batch(texts=["win cash"], model_id="", origins=[INTERNAL])
    assert raised.value.status_code == 503
    assert replica.attempts == 4


def test_training_is_never_retried(replica_at):
    # A second attempt of a Train whose first reached the server would queue a second job.
    replica = _Replica(failures=1, service_answer=False)
    client = AlgorithmClient(replica_at(replica))
    with pytest.raises(AlgorithmError):
        client.train(algorithm="", parameters=None, request_id="r1")
    assert replica.attempts == 1
