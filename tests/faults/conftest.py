"""A deployment of its own for fault tests: its own PostgreSQL and Redis, started from the
local binaries on free ports and data folders so that tests may stop, kill and restart
them (never the machine's shared servers), and the gRPC server, the worker and web, each
started with its Procfile command and killable on its own.
"""

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import psycopg2
import psycopg2.extras
import pytest
import requests

from algorithm.v1 import prediction_pb2_grpc, training_pb2, training_pb2_grpc
from scripts import with_services
from tests import support

# Short, so that a job whose worker died is taken again within seconds (see worker.recovery).
LEASE_SECONDS = 5
TERMINAL = ("succeeded", "failed")


class Process(support.Service):
    """A Service that may be killed, then stopped: only the first end signals its group, so a
    process group id reused after it ended is never signalled."""

    ended = False

    def kill(self) -> None:
        """SIGKILL the whole process group (a worker and its pool), as a crash would."""
        self.ended = True
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self, timeout: float = 15) -> None:
        if not self.ended:
            self.ended = True
            super().stop(timeout)


class Servers:
    """PostgreSQL and Redis of these tests' own, each on a fixed port and data folder, so
    either can be stopped and started again with its data."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.postgres_url = f"postgres://postgres@127.0.0.1:{support.free_port()}/postgres"
        self.redis_url = f"redis://127.0.0.1:{support.free_port()}/0"
        self._stop_postgres: list[str] | None = None
        self._redis: subprocess.Popen | None = None

    def start_postgres(self) -> None:
        _, self._stop_postgres = with_services.start_postgres(
            self.postgres_url, self.root, persistent=True
        )

    def stop_postgres(self) -> None:
        if self._stop_postgres:
            # pg_ctl's fast mode ends every client connection at once, as a crash would.
            subprocess.run(self._stop_postgres, check=True, stdout=subprocess.DEVNULL, timeout=60)
            self._stop_postgres = None

    def start_redis(self) -> None:
        _, self._redis = with_services.start_redis(self.redis_url, self.root, persistent=True)

    def stop_redis(self) -> None:
        if self._redis:
            self._redis.terminate()
            self._redis.wait(timeout=20)
            self._redis = None

    def stop(self) -> None:
        self.stop_redis()
        self.stop_postgres()


class Stack:
    def __init__(self, env: dict[str, str], workdir: pathlib.Path, servers: Servers | None):
        self.env = env
        self.workdir = workdir
        self.servers = servers
        self.models = pathlib.Path(env["MODEL_DIR"])
        self.models.mkdir(parents=True, exist_ok=True)
        self.web = f"http://127.0.0.1:{env['WEB_PORT']}"
        self.headers = {"Authorization": f"Token {env['API_TOKEN']}"}
        self.processes: dict[str, Process] = {}
        self._starts = 0
        self.channel = support.service_channel(
            env["ALGORITHM_GRPC_TARGET"], options=[("grpc.max_reconnect_backoff_ms", 1000)]
        )
        self.training = training_pb2_grpc.TrainingServiceStub(self.channel)
        self.prediction = prediction_pb2_grpc.PredictionServiceStub(self.channel)

    # Processes -------------------------------------------------------------------------

    def start(self, name: str) -> Process:
        """Start a Procfile process and wait until it is ready."""
        self._starts += 1
        process = Process(
            f"{name}-{self._starts}", support.procfile_command(name), self.env, self.workdir
        )
        self.processes[name] = process
        if name == "algorithm_celery":
            support.wait_until(
                lambda: "ready." in process.output() or process.process.poll() is not None,
                60,
                "the Celery worker being ready",
            )
            assert process.process.poll() is None, process.output()[-3000:]
        else:
            port = {"web": "WEB_PORT", "algorithm_grpc": "ALGORITHM_GRPC_PORT"}[name]
            process.wait_for_port(int(self.env[port]))
        return process

    def kill(self, name: str) -> None:
        self.processes[name].kill()

    def stop(self, name: str) -> None:
        self.processes[name].stop()

    def stop_all(self) -> None:
        for process in reversed(self.processes.values()):
            process.stop()
        self.channel.close()

    # The database, read and written from here ------------------------------------------

    @contextlib.contextmanager
    def cursor(self):
        conn = psycopg2.connect(self.env["DATABASE_URL"], connect_timeout=5)
        try:
            with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                yield cursor
        finally:
            conn.close()

    def replace_data(self, rows: list[tuple[str, str]]) -> None:
        with self.cursor() as cursor:
            cursor.execute("TRUNCATE data CASCADE")
            psycopg2.extras.execute_values(
                cursor,
                "INSERT INTO data (text, label, created_at, updated_at) VALUES %s",
                rows,
                template="(%s, %s, now(), now())",
                page_size=5000,
            )

    def job(self, job_id: str) -> dict:
        with self.cursor() as cursor:
            cursor.execute("SELECT * FROM jobs WHERE id = %s", (job_id,))
            return dict(cursor.fetchone())

    def train(self, algorithm: str = "") -> str:
        reply = self.training.Train(training_pb2.TrainRequest(algorithm=algorithm), timeout=10)
        return reply.job.job_id

    def wait_for_stage(
        self, job_id: str, stages: tuple[str, ...], mid_read: bool = False, timeout: float = 60
    ) -> dict:
        """The job once it is in one of these stages (and has read some rows but not all)."""

        def reached():
            job = self.job(job_id)
            assert job["state"] not in TERMINAL, f"the job ended before {stages}: {job}"
            reading = 0 < job["rows_read"] < job["rows_total"]
            return job if job["stage"] in stages and (reading or not mid_read) else None

        return support.wait_until(reached, timeout, f"job {job_id} at {stages}", interval=0.05)

    def wait_for_end(self, job_id: str, timeout: float = 90) -> dict:
        def ended():
            with contextlib.suppress(psycopg2.OperationalError):
                job = self.job(job_id)
                return job if job["state"] in TERMINAL else None
            return None

        return support.wait_until(ended, timeout, f"job {job_id} ending", interval=0.2)

    # Model versions on MODEL_DIR ---------------------------------------------------------

    def versions(self) -> set[str]:
        """The folders a reader takes for versions (hidden ones are staging or trash)."""
        return {
            path.name
            for path in self.models.iterdir()
            if path.is_dir() and not path.name.startswith(".")
        }

    def listed_versions(self) -> list[str]:
        response = requests.get(f"{self.web}/api/models/", headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return [model["model_id"] for model in response.json()["results"]]


@contextlib.contextmanager
def running_stack(
    env: dict[str, str], workdir: pathlib.Path, servers: Servers | None = None
) -> Iterator[Stack]:
    """The database released, then the gRPC server, a worker and web started, each with its
    Procfile command; every process stopped at the end."""
    stack = Stack(env, workdir, servers)
    try:
        support.run_checked("python -m web.manage release", env)
        for name in ("algorithm_grpc", "algorithm_celery", "web"):
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()


def seconds_since(started: float) -> float:
    return round(time.monotonic() - started, 2)


@pytest.fixture(scope="session")
def sms_rows() -> list[tuple[str, str]]:
    return [(row["text"], row["label"]) for row in support.read_tsv("sms_spam.tsv")]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("faults")
    # Not under pytest's folder, which only its owner may enter: PostgreSQL may run as
    # another user (see with_services.start_postgres).
    servers = Servers(pathlib.Path(tempfile.mkdtemp(prefix="textclf-faults-")))
    ports = {name: support.free_port() for name in ("web", "grpc")}
    inherited = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env = {
        **inherited,
        "DATABASE_URL": servers.postgres_url.rsplit("/", 1)[0] + "/textclf",
        "REDIS_URL": servers.redis_url,
        "REDIS_KEY_PREFIX": "faults:",
        "MODEL_DIR": str(workdir / "models"),
        "LOG_DIR": str(workdir / "log"),
        "WEB_PORT": str(ports["web"]),
        "ALGORITHM_GRPC_PORT": str(ports["grpc"]),
        "ALGORITHM_GRPC_TARGET": f"127.0.0.1:{ports['grpc']}",
        "API_TOKEN": uuid.uuid4().hex,
        "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
        # Tokens are remembered per web process (web.accounts.authentication): with one,
        # the token this test uses is known to the process that answers while PostgreSQL
        # is down.
        "WEB_WORKERS": "1",
        "WORKER_CONCURRENCY": "2",
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    env.pop("REDBEAT_REDIS_URL", None)
    # Metrics on ports of its own: another pytest-xdist worker's stack runs beside this one.
    env = support.metrics_apart(env, workdir / "metrics")
    try:
        servers.start_postgres()
        servers.start_redis()
        with running_stack(env, workdir, servers) as stack:
            yield stack
    finally:
        servers.stop()
        shutil.rmtree(servers.root, ignore_errors=True)
