"""Helpers for tests that run the real services as processes."""

import contextlib
import csv
import itertools
import json
import os
import pathlib
import secrets
import shlex
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc
import psycopg2
import redis
import requests

from algorithm.domain import ml
from algorithm.domain.store import ModelStore
from common import credentials
from common.wire import AUTHORIZATION_METADATA, bearer

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def read_tsv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE))


# Below the ephemeral ports clients take: an xdist worker's range, else 20000 to 21999, from
# a place of the process's own, far apart for pids close together (ranges are shared).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
_RANGE = 2000
_FIRST_PORT = 22000 + _RANGE * int(_WORKER[2:])
_START = os.getpid() * 1237 % _RANGE
_PORTS = itertools.islice(itertools.cycle(range(_FIRST_PORT, _FIRST_PORT + _RANGE)), _START, None)


def free_port() -> int:
    """The next free port of this process's range (each tried once: all taken, an error)."""
    for port in itertools.islice(_PORTS, _RANGE):
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return sock.getsockname()[1]
    raise OSError("no free port")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval=0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def database_url(name: str) -> str:
    base = urllib.parse.urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1/")
    return urllib.parse.urlunsplit(base._replace(path=f"/{name}"))


def _admin_execute(sql: str) -> None:
    conn = psycopg2.connect(database_url("postgres"), connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def create_database(name: str) -> str:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    return database_url(name)


def drop_database(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_redis_keys(prefix: str) -> None:
    client = redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@contextlib.contextmanager
def isolated_env(name: str, workdir: pathlib.Path) -> Iterator[dict[str, str]]:
    """Environment for one test run's services: their own database, Redis key prefix, model
    and log folders and free ports, with web pointed at that algorithm service. The
    database and the Redis keys are removed after."""
    run = f"{name}_{os.environ['TEST_RUN_ID']}"
    ports = {name: free_port() for name in ("web", "grpc", "http", *METRICS_PORTS)}
    # pytest-django's settings variable would switch on Celery's Django integration in the
    # worker and the scheduler, which the real deployment never does.
    inherited = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env = {
        **inherited,
        "DATABASE_URL": create_database(f"textclf_{run}"),
        "REDIS_KEY_PREFIX": f"textclf-{run}:",
        "MODEL_DIR": str(workdir / "models"),
        "LOG_DIR": str(workdir / "log"),
        "WEB_PORT": str(ports["web"]),
        "ALGORITHM_GRPC_PORT": str(ports["grpc"]),
        "ALGORITHM_HTTP_PORT": str(ports["http"]),
        "ALGORITHM_GRPC_TARGET": f"127.0.0.1:{ports['grpc']}",
        "METRICS_DIR": str(workdir / "metrics"),
        **{name: str(ports[name]) for name in METRICS_PORTS},
        "WEB_WORKERS": "2",
        "ALGORITHM_HTTP_WORKERS": "1",
        # One process answers, so that a test sees the version switch it waited for
        # (tests/processes/test_grpc_processes.py runs several).
        "ALGORITHM_GRPC_PROCESSES": "1",
        "WORKER_CONCURRENCY": "1",
        # Tests wait for real ticks of '* * * * *'.
        "SCHEDULE_MIN_INTERVAL_MINUTES": "1",
    }
    try:
        yield env
    finally:
        drop_database(f"textclf_{run}")
        delete_redis_keys(env["REDIS_KEY_PREFIX"])


METRICS_PORTS = (
    "WEB_METRICS_PORT",
    "ALGORITHM_METRICS_PORT",
    "WORKER_METRICS_PORT",
    "SCHEDULER_METRICS_PORT",
)


def metrics_apart(env: dict[str, str], folder: pathlib.Path) -> dict[str, str]:
    """The environment with metrics in a folder and on ports of its own: for a stack beside
    others, or a second process of a tree a stack already runs (one tree's folder is made
    afresh at each start)."""
    return {
        **env,
        "METRICS_DIR": str(folder),
        **{name: str(free_port()) for name in METRICS_PORTS},
    }


def procfile_command(name: str) -> str:
    """The command `make run` starts for a process type: tests start exactly that."""
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            return command.strip()
    raise KeyError(name)


class Service:
    """A process in its own process group, stopped with everything it started."""

    def __init__(self, name: str, command: str | list[str], env: dict[str, str], log_dir):
        self.name = name
        self.log_path = pathlib.Path(log_dir) / f"{name}.out"
        argv = command if isinstance(command, list) else ["bash", "-c", f"exec {command}"]
        env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', os.environ['PATH'])}"}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_port(self, port: int, timeout: float = 60) -> None:
        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            return port_open(port)

        wait_until(ready, timeout, f"{self.name} listening on {port}")

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (children of a killed parent) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()


@contextlib.contextmanager
def make_run(
    name: str, workdir: pathlib.Path, settings: Mapping[str, str] | None = None
) -> Iterator[tuple[dict[str, str], Service]]:
    """`make run` in an isolated environment with these settings, yielded once it says its
    stack is ready (web's readiness check); stopped after, and its ports closed."""
    with isolated_env(name, workdir) as env:
        env.update(API_TOKEN=secrets.token_hex(20), DJANGO_SECRET_KEY=secrets.token_urlsafe(40))
        env.update(settings or {})
        ports = [
            int(env[key]) for key in ("WEB_PORT", "ALGORITHM_GRPC_PORT", "ALGORITHM_HTTP_PORT")
        ]
        service = Service("make-run", ["make", "run"], env, workdir)
        try:
            for port in ports:
                service.wait_for_port(port, timeout=120)
            wait_until(
                lambda: "Ready: http://127.0.0.1:" in service.output(), 120, "make run ready"
            )
            yield env, service
        finally:
            service.stop()
            for port in ports:
                assert not port_open(port), f"port {port} still open after stopping"


def publish_model(store: ModelStore, rows: list[tuple[str, str]], activate: bool = True) -> str:
    """Train (text, label) rows in this process and publish the version, as the worker would."""
    texts, labels = [text for text, _ in rows], [label for _, label in rows]
    parameters = ml.resolve_parameters(ml.DEFAULT_ALGORITHM, {})
    trained = ml.train(texts, labels, ml.DEFAULT_ALGORITHM, parameters)
    model_id = str(uuid.uuid4())
    store.publish(
        model_id,
        trained.vectorizer,
        trained.classifier,
        {
            "algorithm": ml.DEFAULT_ALGORITHM,
            "parameters": parameters,
            "labels": trained.labels,
            "metrics": trained.metrics,
            "row_count": len(rows),
        },
    )
    if activate:
        store.activate(model_id)
    return model_id


def run_checked(command: str, env: dict[str, str], stdin: str | None = None) -> str:
    env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', os.environ['PATH'])}"}
    result = subprocess.run(
        shlex.split(command),
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def console_user(env: dict[str, str], username: str, *scopes: str, password: str) -> None:
    """A console user of a running stack, made as an operator would: `console_user create`,
    the password on standard input."""
    options = " ".join(f"--scope {scope}" for scope in scopes)
    run_checked(
        f"python -m web.manage console_user create {username} {options}", env, password + "\n"
    )


def console_sign_in(
    url: str, username: str, password: str, headers: dict[str, str] | None = None
) -> tuple[requests.Session, requests.Response]:
    """A sign-in to the console at `url` as a browser makes it: the form's page first, for its
    CSRF cookie and token, then the form; the session and the form's answer (not followed)."""
    session = requests.Session()
    session.headers.update(headers or {})
    page = session.get(f"{url}/console/sign-in/", timeout=10)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    answer = session.post(
        f"{url}/console/sign-in/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )
    return session, answer


class _ServiceCredential(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the algorithm service's credential to every call, as web does."""

    def _with_credential(self, details):
        metadata = [*(details.metadata or ()), (AUTHORIZATION_METADATA, service_authorization())]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_credential(details), request)

    intercept_unary_stream = intercept_unary_unary

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_credential(details), requests)

    intercept_stream_stream = intercept_stream_unary


def service_authorization() -> str:
    """The value of the authorization header the algorithm service wants."""
    return bearer(credentials.secret("ALGORITHM_SERVICE_TOKEN"))


def service_channel(target: str, **kwargs: Any) -> grpc.Channel:
    """A channel to the algorithm service whose calls carry its credential."""
    return grpc.intercept_channel(grpc.insecure_channel(target, **kwargs), _ServiceCredential())


def shim_session() -> requests.Session:
    """A session whose requests to the Flask shim carry the service's credential."""
    session = requests.Session()
    session.headers["Authorization"] = service_authorization()
    return session


TRITON_PYTHON = REPO_ROOT / ".venv-tritonclient" / "bin" / "python"
INFERENCE_CLIENT_DIR = REPO_ROOT / "tests" / "inference_client"


def run_inference_client(script: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run a script of tests/inference_client/ in tritonclient's own environment, in its own
    process (its proto and ours both define package `inference`); its JSON output."""
    assert TRITON_PYTHON.exists(), "tritonclient's environment is missing: run `make tritonclient`"
    result = subprocess.run(
        [str(TRITON_PYTHON), str(INFERENCE_CLIENT_DIR / script), *args],
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"], **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def give_feedback(env: dict[str, str], model_id: str, pairs: list[tuple[str, str]]) -> None:
    """A logged prediction of the version for each (predicted, true) pair, with its feedback."""
    conn = psycopg2.connect(env["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cursor:
            for predicted, actual in pairs:
                prediction_id, scores = str(uuid.uuid4()), json.dumps({predicted: 0.9})
                cursor.execute(
                    "INSERT INTO predictions (id, created_at, model_id, label, scores, "
                    "top_probability, margin, entropy, caller, request_id, reference, text, "
                    "text_hash, text_key, kept_because) VALUES (%s, now(), %s, %s, %s, 0.9, "
                    "0.8, 0.3, 'internal', '', '', '', '', %s, 'sampled')",
                    (prediction_id, model_id, predicted, scores, prediction_id),
                )
                cursor.execute(
                    "INSERT INTO feedback (prediction_id, model_id, predicted, label, "
                    "created_at, updated_at, given_by) VALUES (%s, %s, %s, %s, now(), now(), "
                    "'token:ab')",
                    (prediction_id, model_id, predicted, actual),
                )
    finally:
        conn.close()


def scheduled_check(env: dict[str, str], model_id: str) -> None:
    """What a schedule's tick runs (the monitoring task's function), now, in a process with
    these settings: the real scheduler ticks at most every SCHEDULE_MIN_INTERVAL_MINUTES."""
    run_checked(
        f'python -c "from algorithm.domain.monitoring import compute_accuracy; '
        f"compute_accuracy(model_id='{model_id}')\"",
        env,
    )
