"""The services under test, started from the Procfile exactly as `make run` starts them,
plus the bench-only reference servers; all stopped when the stack closes."""

import contextlib
import os
import pathlib
import runpy
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests

from common import settings as common_settings
from tests import support

API_TOKEN = "bench-token"
REPO_ROOT = support.REPO_ROOT
# isolated_env pins small process counts for the test suite; the benchmark measures the
# deployed defaults instead.
_TEST_ONLY_SETTINGS = (
    "WEB_WORKERS",
    "ALGORITHM_HTTP_WORKERS",
    "ALGORITHM_GRPC_PROCESSES",
    "WORKER_CONCURRENCY",
)


@dataclass
class Stack:
    env: dict[str, str]
    workdir: pathlib.Path
    ports: dict[str, int]
    services: dict[str, support.Service] = field(default_factory=dict)
    # The port each service is ready once it listens on (None: no port to wait for).
    _ready_ports: dict[str, int | None] = field(default_factory=dict)

    @property
    def model_dir(self) -> pathlib.Path:
        return pathlib.Path(self.env["MODEL_DIR"])

    def url(self, server: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[server]}{path}"

    def grpc_target(self, server: str = "grpc") -> str:
        return f"127.0.0.1:{self.ports[server]}"

    def start(
        self, name: str, command: str, port: int | None, inherit_env: bool = True, **extra_env: str
    ) -> None:
        """Start a process; wait_ready() waits for it (so several can start at once). Without
        inherit_env it gets none of the stack's settings (and so none of its secrets)."""
        base = self.env if inherit_env else {"PATH": self.env["PATH"], "LANG": "C.UTF-8"}
        service = support.Service(name, command, {**base, **extra_env}, self.workdir)
        self.services[name] = service
        self._ready_ports[name] = port

    def wait_ready(self) -> None:
        for name, service in self.services.items():
            if self._ready_ports.get(name) is not None:
                service.wait_for_port(self._ready_ports[name], timeout=180)
            elif name == "algorithm_celery":
                support.wait_until(
                    lambda s=service: "ready." in s.output(), 180, "the Celery worker"
                )

    def stop(self, name: str) -> None:
        self.services.pop(name).stop()

    def stop_all(self) -> None:
        for name in reversed(list(self.services)):
            self.stop(name)

    def start_worker(self) -> None:
        self.start("algorithm_celery", support.procfile_command("algorithm_celery"), None)

    def run(self, command: str, timeout: float = 1800, stdin: str | None = None) -> str:
        """Run a command of the project (its venv first on PATH) to the end, `stdin` its
        standard input; its output."""
        env = {**self.env, "PATH": f"{support.VENV_BIN}{os.pathsep}{self.env['PATH']}"}
        done = subprocess.run(
            shlex.split(command),
            cwd=REPO_ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def api(self, method: str, path: str, server: str = "web", **kwargs) -> requests.Response:
        headers = {"Authorization": f"Token {API_TOKEN}"}
        return requests.request(
            method, self.url(server, path), headers=headers, timeout=30, **kwargs
        )

    def start_rest_variant(self, name: str, **settings: str) -> None:
        """Another web and gRPC server of the same code, database, Redis and models, with
        `settings` in both environments: web as `name` (its port self.ports[name]), the gRPC
        server as f"{name}_grpc". stack.wait_ready() waits for them."""
        grpc_port, web_port = support.free_port(), support.free_port()
        self.ports[f"{name}_grpc"], self.ports[name] = grpc_port, web_port
        apart = {
            # Its metrics apart from the other servers'.
            "METRICS_DIR": str(self.workdir / f"metrics-{name}"),
            "WEB_METRICS_PORT": str(support.free_port()),
            "ALGORITHM_METRICS_PORT": str(support.free_port()),
        }
        self.ports[f"{name}_grpc_metrics"] = int(apart["ALGORITHM_METRICS_PORT"])
        self.start(
            f"{name}_grpc",
            support.procfile_command("algorithm_grpc"),
            grpc_port,
            ALGORITHM_GRPC_PORT=str(grpc_port),
            **apart,
            **settings,
        )
        self.start(
            name,
            support.procfile_command("web"),
            web_port,
            WEB_PORT=str(web_port),
            ALGORITHM_GRPC_TARGET=f"127.0.0.1:{grpc_port}",
            **apart,
            **settings,
        )

    def web_workers(self) -> int:
        """How many processes web's gunicorn runs, as its configuration decides."""
        return int(runpy.run_path(str(REPO_ROOT / "web" / "gunicorn.conf.py"))["workers"])


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    """The real web, gRPC server, Flask shim and worker on their own database, Redis prefix
    and model folder; beside them the bench web app (bench/web_asgi.py: the empty
    authenticated prediction endpoint, bare DRF and naive endpoints, same
    gunicorn configuration) and an empty gRPC service on the real server's settings."""
    os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:10])
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="textclf-bench-"))
    with support.isolated_env("bench", workdir) as env:
        for name in _TEST_ONLY_SETTINGS:
            if name in os.environ:
                env[name] = os.environ[name]
            else:
                env.pop(name, None)
        env["API_TOKEN"] = API_TOKEN
        # This process and the load generators it starts call the services too: they read
        # the service's credential from the same place as the services.
        secrets_dir = os.environ.get("SECRETS_DIR") or str(workdir / "secrets")
        os.environ["SECRETS_DIR"] = env["SECRETS_DIR"] = secrets_dir
        common_settings.SECRETS_DIR = pathlib.Path(secrets_dir)
        # One token drives thousands of requests a second: far past the default budgets, and
        # a 429 is not what is measured. The counter still runs, on every path alike.
        env["THROTTLE_RATE_PREDICT"] = env["THROTTLE_RATE_WRITE"] = "1000000/s"
        ports = {
            "web": int(env["WEB_PORT"]),
            "grpc": int(env["ALGORITHM_GRPC_PORT"]),
            "http": int(env["ALGORITHM_HTTP_PORT"]),
            "bench_web": support.free_port(),
            "bench_grpc": support.free_port(),
        }
        stack = Stack(env, workdir, ports)
        try:
            stack.run("python -m common.credentials")
            stack.run("python -m web.manage release")
            stack.start("algorithm_grpc", support.procfile_command("algorithm_grpc"), ports["grpc"])
            stack.start("algorithm_http", support.procfile_command("algorithm_http"), ports["http"])
            stack.start("web", support.procfile_command("web"), ports["web"])
            stack.start_worker()
            stack.start(
                "bench_web",
                support.procfile_command("web").replace(
                    "web.config.asgi:application", "bench.web_asgi:application"
                ),
                ports["bench_web"],
                WEB_PORT=str(ports["bench_web"]),
                DJANGO_SETTINGS_MODULE="bench.web_settings",
                # A second web: its metrics apart from the first one's.
                METRICS_DIR=str(workdir / "metrics-bench-web"),
                WEB_METRICS_PORT=str(support.free_port()),
            )
            stack.start(
                "bench_grpc",
                "python -m bench.empty_grpc",
                ports["bench_grpc"],
                ALGORITHM_GRPC_PORT=str(ports["bench_grpc"]),
            )
            stack.wait_ready()
            yield stack
        finally:
            stack.stop_all()
            shutil.rmtree(workdir, ignore_errors=True)
