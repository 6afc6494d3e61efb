"""The algorithm services (gRPC server, Flask shim, Celery worker) as real processes.

They run once per test session against their own database, model folder and Redis key
prefix, started with the very commands `make run` uses.
"""

import pathlib
import subprocess

import psycopg2
import pytest

from algorithm.domain.store import ModelStore
from algorithm.v1 import prediction_pb2, prediction_pb2_grpc, training_pb2_grpc
from common import settings as common_settings
from tests import support


def insert_data(env: dict[str, str], rows: list[tuple[str, str]], replace: bool = False) -> None:
    """Add (text, label) rows to the data table of env's database; replace: the only ones."""
    conn = psycopg2.connect(env["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cursor:
            if replace:
                cursor.execute("TRUNCATE data CASCADE")
            cursor.executemany(
                "INSERT INTO data (text, label, created_at, updated_at) "
                "VALUES (%s, %s, now(), now())",
                rows,
            )
    finally:
        conn.close()


def api_token(env: dict[str, str], username: str, *scopes: str) -> str:
    """A new API token of a new user in env's database, made by the management command."""
    command = [str(support.VENV_BIN / "python"), "-m", "web.manage", "create_api_token"]
    flags = [arg for scope in scopes for arg in ("--scope", scope)]
    return subprocess.run(
        [*command, username, *flags],
        env=env,
        cwd=support.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


class AlgorithmServices:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.grpc_target = env["ALGORITHM_GRPC_TARGET"]
        self.http_url = f"http://127.0.0.1:{env['ALGORITHM_HTTP_PORT']}"
        self.shim = support.shim_session()
        self.store = ModelStore(env["MODEL_DIR"])

    def replace_data(self, rows: list[tuple[str, str]]) -> None:
        """Make the data table hold exactly these (text, label) rows."""
        self.insert_data(rows, replace=True)

    def insert_data(self, rows: list[tuple[str, str]], replace: bool = False) -> None:
        insert_data(self.env, rows, replace)

    def publish_model(self, rows: list[tuple[str, str]], activate: bool = True) -> str:
        """Train in this process and publish a version, as the worker would."""
        return support.publish_model(self.store, rows, activate)


@pytest.fixture(scope="session")
def algorithm_services(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("algorithm-services")
    with support.isolated_env("svc", workdir) as env:
        # Every prediction in the prediction log, so that a test finds the one it made.
        env["PREDICTION_LOG_SAMPLE_RATE"] = "1"
        # Live accuracy computed at each scrape, so that a test sees the feedback it gave.
        env["LIVE_ACCURACY_CACHE_SECONDS"] = "0"
        support.run_checked("python -m web.manage release", env)
        services = [
            support.Service(name, support.procfile_command(name), env, workdir)
            for name in ("algorithm_grpc", "algorithm_http", "algorithm_celery")
        ]
        try:
            services[0].wait_for_port(int(env["ALGORITHM_GRPC_PORT"]))
            services[1].wait_for_port(int(env["ALGORITHM_HTTP_PORT"]))
            support.wait_until(
                lambda: "ready." in services[2].output(), 60, "the Celery worker being ready"
            )
            yield AlgorithmServices(env)
        finally:
            for service in services:
                service.stop()


@pytest.fixture
def web_client(api_client, settings, algorithm_services):
    """An authenticated REST client of a web app that talks to the algorithm services."""
    settings.ALGORITHM_GRPC_TARGET = algorithm_services.grpc_target
    common_settings.LOG_DIR = pathlib.Path(algorithm_services.env["LOG_DIR"])
    return api_client


@pytest.fixture(scope="session")
def sms_rows() -> list[tuple[str, str]]:
    return [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")]


@pytest.fixture(scope="session")
def served_model_id(algorithm_services, sms_rows) -> str:
    """A model trained on the SMS set and published; other tests may activate others."""
    return algorithm_services.publish_model(sms_rows, activate=False)


def activate_and_wait(algorithm_services, model_id: str, prediction_stub) -> None:
    """Make a version the active one and wait until the gRPC server answers with it."""
    algorithm_services.store.activate(model_id)
    support.wait_until(
        lambda: (
            prediction_stub.Predict(prediction_pb2.PredictRequest(text="hello"), timeout=5).model_id
            == model_id
        ),
        2,
        "the model being served",
        interval=0.02,
    )


@pytest.fixture
def active_model_id(algorithm_services, served_model_id, prediction_stub) -> str:
    """The SMS model, made the active version and served, for this test."""
    activate_and_wait(algorithm_services, served_model_id, prediction_stub)
    return served_model_id


@pytest.fixture(scope="module")
def channel_without_redis(algorithm_services, tmp_path_factory):
    """A channel to a second gRPC server of the same deployment whose Redis is down."""
    port = support.free_port()
    workdir = tmp_path_factory.mktemp("grpc-no-redis")
    env = {
        **support.metrics_apart(algorithm_services.env, workdir / "metrics"),
        "ALGORITHM_GRPC_PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{support.free_port()}/0",
    }
    server = support.Service(
        "grpc-no-redis",
        support.procfile_command("algorithm_grpc"),
        env,
        workdir,
    )
    try:
        server.wait_for_port(port)
        with support.service_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop()


@pytest.fixture(scope="session")
def grpc_channel(algorithm_services):
    channel = support.service_channel(algorithm_services.grpc_target)
    yield channel
    channel.close()


@pytest.fixture(scope="session")
def prediction_stub(grpc_channel):
    return prediction_pb2_grpc.PredictionServiceStub(grpc_channel)


@pytest.fixture(scope="session")
def training_stub(grpc_channel):
    return training_pb2_grpc.TrainingServiceStub(grpc_channel)
