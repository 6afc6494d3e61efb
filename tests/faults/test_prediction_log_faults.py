"""The prediction log when PostgreSQL stops under REST prediction load, with a token used
before the stop: every prediction is still answered, the records the log cannot write are
dropped and counted, and the log writes again by itself once PostgreSQL is back."""

import re
import threading
import time

import grpc
import psycopg2
import pytest
import requests

from algorithm.domain.store import ModelStore
from algorithm.v1 import prediction_pb2, prediction_pb2_grpc
from tests import support
from tests.faults.conftest import Process, seconds_since

pytestmark = pytest.mark.slow

TEXTS = ["WINNER!! You have won a free prize, call now to claim", "see you at dinner"]


@pytest.fixture(scope="module")
def logging_server(stack, sms_rows, tmp_path_factory):
    """A gRPC server of the stack's own that logs every prediction, with its metrics apart,
    serving a model trained here, and a web in front of it; its channel, its metrics URL and
    web's predict URL."""
    model_id = support.publish_model(ModelStore(stack.models), sms_rows[:300])
    workdir = tmp_path_factory.mktemp("prediction-log")
    port = support.free_port()
    env = {
        **support.metrics_apart(stack.env, workdir / "metrics"),
        "ALGORITHM_GRPC_PORT": str(port),
        "ALGORITHM_GRPC_PROCESSES": "1",
        "PREDICTION_LOG_SAMPLE_RATE": "1",
    }
    web_env = {
        **support.metrics_apart(stack.env, workdir / "web-metrics"),
        "WEB_PORT": str(support.free_port()),
        "ALGORITHM_GRPC_TARGET": f"127.0.0.1:{port}",
    }
    server = Process(
        "grpc-prediction-log", support.procfile_command("algorithm_grpc"), env, workdir
    )
    web = None
    try:
        server.wait_for_port(port)
        with support.service_channel(f"127.0.0.1:{port}") as channel:
            stub = prediction_pb2_grpc.PredictionServiceStub(channel)
            support.wait_until(lambda: served(stub) == model_id, 30, "the model served")
            web = Process("web-prediction-log", support.procfile_command("web"), web_env, workdir)
            web.wait_for_port(int(web_env["WEB_PORT"]))
            yield (
                stub,
                f"http://127.0.0.1:{env['ALGORITHM_METRICS_PORT']}/metrics",
                f"http://127.0.0.1:{web_env['WEB_PORT']}/api/predict/",
            )
    finally:
        if web is not None:
            web.stop()
        server.stop()


def served(stub) -> str | None:
    try:
        return predict(stub).model_id
    except grpc.RpcError:  # no version loaded yet
        return None


def predict(stub) -> prediction_pb2.PredictBatchResponse:
    return stub.PredictBatch(prediction_pb2.PredictBatchRequest(texts=TEXTS), timeout=5)


def counts(metrics_url: str) -> dict[str, float]:
    """The server's texts predicted, and the log's records written and dropped."""
    text = requests.get(metrics_url, timeout=5).text
    found = re.findall(
        r'^textclf_prediction_log_records_total\{outcome="(\w+)"\} (\S+)$', text, re.M
    )
    predicted = re.findall(r"^textclf_predictions_total\{[^}]*\} (\S+)$", text, re.M)
    return {
        "predicted": sum(float(value) for value in predicted),
        "written": 0.0,
        "dropped": 0.0,
    } | {outcome: float(value) for outcome, value in found}


def in_log(stack, ids: list[str]) -> bool:
    try:
        with stack.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) AS n FROM predictions WHERE id = ANY(%s::uuid[])", (ids,)
            )
            return cursor.fetchone()["n"] == len(ids)
    except psycopg2.OperationalError:  # still starting
        return False


class Load:
    """REST predictions sent without pause from a thread, with a token web has already
    checked: every answer's ids, every failure."""

    def __init__(self, url: str, headers: dict[str, str]):
        self.answered: list[list[str]] = []
        self.failures: list[object] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers))
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str]):
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    response = session.post(url, json={"texts": TEXTS}, headers=headers, timeout=5)
                except requests.RequestException as error:
                    self.failures.append(error)
                    continue
                if response.status_code == 200:
                    self.answered.append([p["prediction_id"] for p in response.json()])
                else:
                    self.failures.append((response.status_code, response.text[:200]))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_postgres_down_under_load_every_prediction_is_answered_and_the_log_resumes(
    stack, logging_server
):
    _stub, metrics_url, predict_url = logging_server
    # The token's first use, while PostgreSQL is up: web checks it then.
    first = requests.post(predict_url, json={"texts": TEXTS}, headers=stack.headers, timeout=10)
    assert first.status_code == 200, first.text
    before = [p["prediction_id"] for p in first.json()]
    support.wait_until(lambda: in_log(stack, before), 10, "the log writing")
    load = Load(predict_url, stack.headers)
    try:
        support.wait_until(lambda: len(load.answered) >= 20, 10, "predictions under way")
        stack.servers.stop_postgres()
        try:
            down = len(load.answered)
            support.wait_until(lambda: counts(metrics_url)["dropped"] >= 20, 15, "records dropped")
            time.sleep(1)
            assert len(load.answered) > down + 20
        finally:
            stack.servers.start_postgres()
        back = time.monotonic()
        since = len(load.answered)
        support.wait_until(
            lambda: len(load.answered) > since + 5 and in_log(stack, load.answered[-1]),
            30,
            "the log writing again",
            interval=0.3,
        )
        print(f"\nPostgreSQL back: the prediction log writes again after {seconds_since(back)} s")
    finally:
        load.stop()

    assert load.failures == []
    # Every prediction is kept here: each was written, or dropped and counted.
    final = support.wait_until(
        lambda: (c := counts(metrics_url))["written"] + c["dropped"] == c["predicted"] and c,
        10,
        "every record written or dropped",
    )
    assert final["dropped"] >= 20
