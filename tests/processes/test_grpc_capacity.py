"""The gRPC server's capacity under load: health Watch streams hold no thread and are capped,
calls beyond ALGORITHM_GRPC_MAX_CONCURRENT_RPCS are refused at once, and the metrics port
shows each process's memory and the threads busy."""

import re
import socket
import threading
import time
import types
import uuid
from collections import Counter

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from algorithm.serving.grpc_server import MAX_HEALTH_WATCHERS
from algorithm.v1 import info_pb2, info_pb2_grpc, prediction_pb2, training_pb2, training_pb2_grpc
from tests import support

pytestmark = pytest.mark.slow


def _open_watches(channel: grpc.Channel, count: int) -> tuple[list, list]:
    """count Watch streams on the channel, and what each answered first."""
    stub = health_pb2_grpc.HealthStub(channel)
    streams = [stub.Watch(health_pb2.HealthCheckRequest()) for _ in range(count)]
    outcomes: list = [None] * count

    def first(index: int) -> None:
        try:
            outcomes[index] = next(streams[index]).status
        except grpc.RpcError as error:
            outcomes[index] = (error.code(), error.details())

    readers = [threading.Thread(target=first, args=(index,)) for index in range(count)]
    for reader in readers:
        reader.start()
    answered_by = time.monotonic() + 5
    for reader in readers:
        reader.join(timeout=max(0, answered_by - time.monotonic()))
    return streams, outcomes


def test_health_watch_streams_hold_no_thread_are_capped_and_free_their_place(
    algorithm_services, prediction_stub, active_model_id
):
    serving = health_pb2.HealthCheckResponse.SERVING
    refusal = (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"{MAX_HEALTH_WATCHERS} health watches are open already; call Check instead.",
    )
    with grpc.insecure_channel(algorithm_services.grpc_target) as channel:
        streams, outcomes = _open_watches(channel, MAX_HEALTH_WATCHERS + 8)
        # The server takes the streams in the order they reach it, not the order opened.
        assert Counter(outcomes) == {serving: MAX_HEALTH_WATCHERS, refusal: 8}

        # More open streams than the server has threads, and predictions go on.
        started = time.monotonic()
        reply = prediction_stub.Predict(prediction_pb2.PredictRequest(text="hi"), timeout=1)
        assert reply.model_id == active_model_id
        assert time.monotonic() - started < 1

        for stream in streams:
            stream.cancel()

        def reopened() -> bool:
            again, outcomes = _open_watches(channel, MAX_HEALTH_WATCHERS)
            for stream in again:
                stream.cancel()
            return outcomes == [serving] * MAX_HEALTH_WATCHERS

        support.wait_until(reopened, 10, "the closed watches' places free again")


@pytest.fixture
def black_hole() -> int:
    """A port that accepts connections and never answers: a database that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def one_thread_server(algorithm_services, black_hole, tmp_path):
    """A gRPC server of one thread that takes two calls at once, whose database hangs (each
    call that needs it holds the thread for DB_CONNECT_TIMEOUT_SECONDS)."""
    port = support.free_port()
    env = {
        **support.metrics_apart(algorithm_services.env, tmp_path / "metrics"),
        "ALGORITHM_GRPC_PORT": str(port),
        "ALGORITHM_GRPC_THREADS": "1",
        "ALGORITHM_GRPC_MAX_CONCURRENT_RPCS": "2",
        "DATABASE_URL": f"postgres://textclf@127.0.0.1:{black_hole}/textclf",
    }
    server = support.Service(
        "grpc-one-thread", support.procfile_command("algorithm_grpc"), env, tmp_path
    )
    try:
        server.wait_for_port(port)
        # The metrics port opens beside the gRPC one, not necessarily before it.
        server.wait_for_port(int(env["ALGORITHM_METRICS_PORT"]))
        with support.service_channel(f"127.0.0.1:{port}") as channel:
            yield types.SimpleNamespace(
                channel=channel,
                target=f"127.0.0.1:{port}",
                metrics_url=f"http://127.0.0.1:{env['ALGORITHM_METRICS_PORT']}/metrics",
                pid=server.process.pid,
            )
    finally:
        server.stop()


def _sample(text: str, name: str, labels: str = "") -> float:
    found = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name}{labels} not in the metrics"
    return float(found.group(1))


def test_calls_beyond_the_maximum_are_refused_at_once_and_the_metrics_show_the_busy_thread(
    one_thread_server, api_client, settings
):
    server = one_thread_server
    channel, metrics_url = server.channel, server.metrics_url
    jobs = training_pb2_grpc.TrainingServiceStub(channel)
    request = training_pb2.GetJobRequest(job_id=str(uuid.uuid4()))
    holding = [jobs.GetJob.future(request, timeout=10) for _ in range(2)]  # running, queued
    support.wait_until(
        lambda: "grpc_server_threads_busy 1.0" in requests.get(metrics_url, timeout=5).text,
        5,
        "the one thread busy",
    )

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        info_pb2_grpc.InfoServiceStub(channel).GetInfo(info_pb2.GetInfoRequest(), timeout=5)
    assert time.monotonic() - started < 0.5
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Web tells the caller the service is busy, not that the request was too large.
    settings.ALGORITHM_GRPC_TARGET = server.target
    response = api_client.get("/api/models/")
    assert (response.status_code, response.json()) == (
        503,
        {"message": "The algorithm service is busy; try again shortly.", "extra": {}},
    )

    metrics = requests.get(metrics_url, timeout=5).text
    assert _sample(metrics, "grpc_server_threads_busy") == 1
    assert _sample(metrics, "grpc_server_threads_max") == 1
    pid = f'{{pid="{server.pid}",tree="algorithm_grpc"}}'
    assert _sample(metrics, "process_resident_memory_bytes", pid) > 50 * 2**20
    assert _sample(metrics, "process_open_fds", pid) > 0
    assert _sample(metrics, "process_cpu_seconds_total", pid) > 0
    for call in holding:  # each fails once the database connection times out
        assert call.exception(timeout=10) is not None
    assert "grpc_server_threads_busy 0.0" in requests.get(metrics_url, timeout=5).text
