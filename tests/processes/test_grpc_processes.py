"""The gRPC server with ALGORITHM_GRPC_PROCESSES=2: one port, both processes answer, GetInfo
and /metrics count them together, a killed process is replaced, SIGTERM stops them all."""

import os
import pathlib
import signal
import subprocess
import sys

import pytest
import requests
from prometheus_client import multiprocess

from algorithm.v1 import info_pb2, info_pb2_grpc, prediction_pb2, prediction_pb2_grpc
from common.launch import PROC, process_stat
from tests import support
from tests.processes.conftest import api_token

pytestmark = pytest.mark.slow

CONNECTIONS = 16


@pytest.fixture(scope="module")
def server(algorithm_services, served_model_id, tmp_path_factory):
    algorithm_services.store.activate(served_model_id)  # loaded as each process starts
    workdir = tmp_path_factory.mktemp("grpc-processes")
    env = {
        **support.metrics_apart(algorithm_services.env, workdir / "metrics"),
        "ALGORITHM_GRPC_PORT": str(support.free_port()),
        "ALGORITHM_GRPC_PROCESSES": "2",
    }
    service = support.Service(
        "algorithm_grpc", support.procfile_command("algorithm_grpc"), env, workdir
    )
    try:
        service.wait_for_port(int(env["ALGORITHM_GRPC_PORT"]))
        yield service, env
    finally:
        service.stop()


def _children(parent: int) -> list[int]:
    return sorted(
        int(entry.name)
        for entry in PROC.iterdir()
        if entry.name.isdigit() and (stat := process_stat(entry.name)) and stat.parent == parent
    )


def _predict_on_new_connections(target: str, model_id: str) -> None:
    """A prediction on each of CONNECTIONS connections of its own (a channel of its own
    subchannel pool: grpcio shares connections between channels otherwise)."""
    for _ in range(CONNECTIONS):
        options = [("grpc.use_local_subchannel_pool", 1)]
        with support.service_channel(target, options=options) as channel:
            stub = prediction_pb2_grpc.PredictionServiceStub(channel)
            reply = stub.Predict(prediction_pb2.PredictRequest(text="win a prize"), timeout=10)
            assert reply.model_id == model_id


def _answered(folder: pathlib.Path, pid: int) -> float:
    """Texts one process has predicted, from its own file of the tree's metrics folder."""
    families = multiprocess.MultiProcessCollector.merge([str(folder / f"counter_{pid}.db")])
    return sum(
        sample.value
        for family in families
        if family.name == "textclf_predictions"
        for sample in family.samples
    )


def _web(env: dict[str, str], workdir: pathlib.Path) -> support.Service:
    """One web process in front of the server, with as many connections to it as the
    predictions on new connections above open."""
    port = support.free_port()
    web_env = {
        **support.metrics_apart(env, workdir / "web-metrics"),
        "WEB_PORT": str(port),
        "WEB_WORKERS": "1",
        "ALGORITHM_GRPC_TARGET": f"127.0.0.1:{env['ALGORITHM_GRPC_PORT']}",
        "ALGORITHM_GRPC_CONNECTIONS": str(CONNECTIONS),
    }
    web = support.Service("web", support.procfile_command("web"), web_env, workdir)
    web.url = f"http://127.0.0.1:{port}/api/predict/"
    web.wait_for_port(port)
    return web


def _texts_predicted(target: str) -> int:
    with support.service_channel(target) as channel:
        stub = info_pb2_grpc.InfoServiceStub(channel)
        return stub.GetInfo(info_pb2.GetInfoRequest(), timeout=10).texts_predicted


def test_two_processes_answer_on_one_port_and_are_counted_together(server, active_model_id):
    service, env = server
    target = f"127.0.0.1:{env['ALGORITHM_GRPC_PORT']}"
    # The port opens with the first process; the parent may fork the second a moment later.
    support.wait_until(
        lambda: len(_children(service.process.pid)) == 2, 30, "both server processes"
    )
    children = _children(service.process.pid)
    _predict_on_new_connections(target, active_model_id)  # each process loads the model

    before = _texts_predicted(target)
    _predict_on_new_connections(target, active_model_id)
    assert _texts_predicted(target) - before == CONNECTIONS

    # Each process's counter is in its own file of the tree's folder: both answered some.
    folder = pathlib.Path(env["METRICS_DIR"]) / "algorithm_grpc"
    for pid in children:
        assert _answered(folder, pid) > 0, f"process {pid} answered no prediction"

    # REST predictions too: web spreads its calls over connections that reach both.
    counts = {pid: _answered(folder, pid) for pid in children}
    web = _web(env, workdir=pathlib.Path(env["METRICS_DIR"]).parent)
    try:
        token = api_token(env, f"spread-{os.getpid()}", "predict")
        for _ in range(CONNECTIONS * 2):
            answer = requests.post(
                web.url,
                json={"text": "win a prize"},
                headers={"Authorization": f"Token {token}"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
    finally:
        web.stop()
    for pid in children:
        assert _answered(folder, pid) > counts[pid], f"web sent process {pid} no prediction"

    # One endpoint for the tree: each process's memory, and the predictions of both summed.
    text = requests.get(f"http://127.0.0.1:{env['ALGORITHM_METRICS_PORT']}/metrics", timeout=5)
    for pid in (service.process.pid, *children):
        assert f'process_resident_memory_bytes{{pid="{pid}",tree="algorithm_grpc"}}' in text.text
    total = f'textclf_predictions_total{{model_version="{active_model_id}"}}'
    assert f"{total} {float(_texts_predicted(target))}" in text.text

    # Each line of the log names its process.
    lines = service.output()
    for pid in children:
        assert f"[{pid}]: gRPC server listening on port" in lines


def test_a_lone_server_on_their_port_is_refused_instead_of_taking_a_share_of_the_calls(server):
    _, env = server
    result = subprocess.run(
        support.procfile_command("algorithm_grpc"),
        env={
            **env,
            "ALGORITHM_GRPC_PROCESSES": "1",
            "PATH": f"{support.VENV_BIN}:{os.environ['PATH']}",
        },
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    port = env["ALGORITHM_GRPC_PORT"]
    assert (
        f"The gRPC server cannot listen on 127.0.0.1:{port}: is the port in use?" in result.stderr
    )


def test_a_killed_process_is_replaced_and_sigterm_stops_every_one(server, active_model_id):
    service, env = server
    target = f"127.0.0.1:{env['ALGORITHM_GRPC_PORT']}"
    parent = service.process.pid
    first, second = _children(parent)
    os.kill(second, signal.SIGKILL)

    def replaced_in_full():
        now = _children(parent)
        return now if len(now) == 2 and second not in now else None

    replaced = support.wait_until(replaced_in_full, 10, "a new process in the killed one's place")
    assert first in replaced
    assert f"gRPC server process {second} (slot 1) was killed by signal 9" in service.output()
    _predict_on_new_connections(target, active_model_id)

    os.kill(parent, signal.SIGTERM)  # the parent alone: it passes the signal on
    assert service.process.wait(timeout=15) == 0
    assert all(process_stat(pid) is None for pid in replaced), "a server process outlived it"
    assert not support.port_open(int(env["ALGORITHM_GRPC_PORT"]))


@pytest.mark.parametrize("value", ["0", "-1", "two", "257"])
def test_a_number_of_processes_out_of_bounds_is_refused_at_start(value):
    result = subprocess.run(
        [sys.executable, "-c", "import algorithm.settings"],
        env={**os.environ, "ALGORITHM_GRPC_PROCESSES": value},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"ALGORITHM_GRPC_PROCESSES must be a whole number from 1 to 256, not '{value}'." in (
        result.stderr
    )
