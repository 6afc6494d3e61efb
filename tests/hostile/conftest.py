"""The hostile-load suite: attacks on the real `make run` stack, each held while a legitimate
caller goes on predicting (bounds.py says what must hold)."""

import contextlib
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from algorithm.domain.store import ModelStore
from algorithm.v1 import prediction_pb2, prediction_pb2_grpc
from tests import support


@dataclass
class HostileStack:
    env: dict[str, str]
    workdir: pathlib.Path
    model_id: str
    predict_headers: dict[str, str]
    admin_headers: dict[str, str]
    web: str = field(init=False)
    grpc: str = field(init=False)
    shim: str = field(init=False)
    metrics: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.web = f"http://127.0.0.1:{self.env['WEB_PORT']}"
        self.grpc = self.env["ALGORITHM_GRPC_TARGET"]
        self.shim = f"http://127.0.0.1:{self.env['ALGORITHM_HTTP_PORT']}"
        self.metrics = {
            service: f"http://127.0.0.1:{self.env[f'{service.upper()}_METRICS_PORT']}/metrics"
            for service in ("web", "algorithm", "worker", "scheduler")
        }

    def token(self, username: str, scope: str) -> dict[str, str]:
        """The Authorization header of a new token with this one scope."""
        return _token(self.env, username, scope)

    @contextlib.contextmanager
    def web_process(self, **overrides: str) -> Iterator[str]:
        """A second web process of this stack, with settings of its own; its base URL."""
        port = support.free_port()
        workdir = self.workdir / f"web-{port}"
        env = {**support.metrics_apart(self.env, workdir / "metrics"), "WEB_PORT": str(port)}
        workdir.mkdir()
        web = support.Service("web", support.procfile_command("web"), {**env, **overrides}, workdir)
        try:
            web.wait_for_port(port)
            url = f"http://127.0.0.1:{port}"
            support.wait_until(lambda: _healthy(f"{url}/api/health/"), 60, "the second web ready")
            yield url
        finally:
            web.stop()


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _token(env: dict[str, str], username: str, scope: str) -> dict[str, str]:
    command = f"python -m web.manage create_api_token {username} --scope {scope}"
    key = support.run_checked(command, env)
    return {"Authorization": f"Token {key.strip()}"}


# Every prediction logged with its text, under a small byte budget for full texts, so that
# filling the disk through the log is the attack test_learning_loop.py holds.
LOGGED = {
    "PREDICTION_LOG_SAMPLE_RATE": "1",
    "PREDICTION_LOG_TEXT_SAMPLED": "full",
    "PREDICTION_LOG_TEXT_BYTES_PER_MINUTE": str(256 << 10),
}


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[HostileStack]:
    workdir = tmp_path_factory.mktemp("hostile")
    with support.make_run("hostile", workdir, LOGGED) as (env, _):
        rows = [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")]
        model_id = support.publish_model(ModelStore(env["MODEL_DIR"]), rows)
        with support.service_channel(env["ALGORITHM_GRPC_TARGET"]) as channel:
            stub = prediction_pb2_grpc.PredictionServiceStub(channel)
            support.wait_until(
                lambda: (
                    stub.Predict(prediction_pb2.PredictRequest(text="hi"), timeout=5).model_id
                    == model_id
                ),
                10,
                "the model being served",
            )
        yield HostileStack(
            env=env,
            workdir=workdir,
            model_id=model_id,
            predict_headers=_token(env, "hostile-caller", "predict"),
            admin_headers=_token(env, "hostile-admin", "admin"),
        )
