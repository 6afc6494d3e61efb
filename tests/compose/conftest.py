"""The compose deployment on a real Docker engine: `make compose-test` (scripts/with_docker.py
provides the engine). One stack, under a project name of its own, for the whole module; it is
taken down with its volumes and networks at the end, whatever happened."""

import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from tests import support

OFFICIAL_IMAGES = {
    "PYTHON_IMAGE": "python:3.11.7-slim-bookworm",
    "POSTGRES_IMAGE": "postgres:15.10-bookworm",
    "REDIS_IMAGE": "redis:7.2.7-bookworm",
}
OFFLINE_IMAGES = {
    "PYTHON_IMAGE": "textclf-base/python:3.11",
    "POSTGRES_IMAGE": "textclf-base/postgres:15",
    "REDIS_IMAGE": "textclf-base/redis:7",
}
LONG_RUNNING = ("db", "redis", "web", "algorithm", "algorithm_celery", "scheduler")
HTTP_TIMEOUT_SECONDS = 10


def report(what: str, seconds: float) -> None:
    print(f"\n[compose] {what}: {seconds:.1f} s", flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    report(what, time.monotonic() - started)


def _docker(*args: str, timeout: float = 60) -> str:
    return subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, timeout=timeout
    ).stdout


def _have_images(names) -> bool:
    return all(
        subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0
        for name in names
    )


@pytest.fixture(scope="session")
def base_images() -> dict[str, str]:
    """The base images to build and run with: those named in the environment, else the
    official ones if this engine has them, else the ones deploy/images/ builds from Debian."""
    chosen = {name: os.environ[name] for name in OFFICIAL_IMAGES if os.environ.get(name)}
    if len(chosen) == len(OFFICIAL_IMAGES):
        return chosen
    if _have_images(OFFICIAL_IMAGES.values()):
        return {**OFFICIAL_IMAGES, **chosen}
    with step("base images from Debian packages (deploy/images/build.sh)"):
        subprocess.run([str(support.REPO_ROOT / "deploy/images/build.sh")], check=True)
    return {**OFFLINE_IMAGES, **chosen}


class Stack:
    """docker-compose on this repository's file, under a project name of its own."""

    def __init__(self, base_images: dict[str, str], env_file: str):
        self.project = f"textclf-test-{secrets.token_hex(3)}"
        self.port = support.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=support.REPO_ROOT
        ).stdout.strip()
        self.env = {
            **os.environ,
            **base_images,
            "COMPOSE_PROJECT_NAME": self.project,
            # The legacy builder: compose v1 and hosts without BuildKit.
            "DOCKER_BUILDKIT": "0",
            "COMPOSE_DOCKER_CLI_BUILD": "0",
            "IMAGE_TAG": "compose-test",
            "BUILD_TIME": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "GIT_REVISION": revision or "unknown",
            "WEB_PORT": str(self.port),
            "API_TOKEN": self.token,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "MODEL_SIGNING_KEY": secrets.token_urlsafe(40),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
            # The load below is the test's, not a client's to be throttled.
            "THROTTLE_RATE_WRITE": "off",
            "THROTTLE_RATE_PREDICT": "off",
            # One job per worker container, so two jobs at once go to two containers.
            "WORKER_CONCURRENCY": "1",
        }
        self.env_file = env_file
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {self.token}"

    def compose(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            ["docker-compose", "--env-file", self.env_file, *args],
            cwd=support.REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise AssertionError(
                f"docker-compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def inspect(self, container: str) -> dict:
        return json.loads(_docker("inspect", container))[0]

    def health(self, container: str) -> str:
        state = self.inspect(container)["State"]
        return state["Health"]["Status"] if "Health" in state else state["Status"]

    def wait_healthy(self, seconds: float, services=LONG_RUNNING) -> None:
        def all_healthy():
            states = {
                container: self.health(container)
                for service in services
                for container in self.containers(service)
            }
            return states if states and set(states.values()) == {"healthy"} else None

        try:
            support.wait_until(all_healthy, seconds, "every service healthy", interval=2)
        except TimeoutError:
            print(self.compose("ps"), self.compose("logs", "--tail", "40"), flush=True)
            raise

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(
            method, f"{self.url}/api{path}", timeout=HTTP_TIMEOUT_SECONDS, **kwargs
        )

    def replicas(self, calls: int = 24) -> dict[str, int]:
        """Texts predicted by each algorithm replica: /api/info/ goes round robin too, so a
        few calls per replica reach every one that web's channels know."""
        seen: dict[str, int] = {}
        for _ in range(calls):
            algorithm = self.api("GET", "/info/").json()["algorithm"]
            seen[algorithm["replica"]] = max(
                seen.get(algorithm["replica"], 0), algorithm["texts_predicted"]
            )
        return seen


@pytest.fixture(scope="module")
def stack(base_images) -> Iterator[Stack]:
    with tempfile.NamedTemporaryFile("w", suffix=".env") as env_file:
        stack = Stack(base_images, env_file.name)
        try:
            yield stack
        finally:
            with step("down --volumes"):
                stack.compose("down", "--volumes", "--remove-orphans", timeout=180)
            left = _docker(
                "ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.project}"
            )
            assert not left.split(), f"containers left behind: {left}"
