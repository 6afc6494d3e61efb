"""`docker compose up --build` as a user meets it: every service healthy with the secrets it
generated, the smoke script passing through the one published port, the console's page and
its static files served by web."""

import re
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests import support
from tests.compose.conftest import HEALTHY_SECONDS, report, step

pytestmark = pytest.mark.compose


def test_up_builds_and_starts_every_service_healthy(stack):
    started = time.monotonic()
    with step("up --build -d (build, then start in dependency order)"):
        stack.compose("up", "--build", "-d", timeout=1200)
    with step("every long-running service healthy after up returned"):
        stack.wait_healthy(HEALTHY_SECONDS)
    report("up --build -d to every service healthy", time.monotonic() - started)

    for one_shot in ("secrets", "migrate"):
        (container,) = stack.containers(one_shot)
        state = stack.inspect(container)
        assert state["State"]["Status"] == "exited"
        assert state["State"]["ExitCode"] == 0
        # A one-shot step has no health check to fail once it has exited.
        assert "Health" not in state["State"]
    # No secret was given, no password either: the first start generated them (the stack is
    # healthy, so PostgreSQL and Redis took theirs), and printed the API token once.
    token = stack.read_generated_token()
    shown = stack.compose(
        "exec", "-T", "web", "python", "-m", "common.credentials", "show", "API_TOKEN"
    )
    assert shown.strip() == token
    assert stack.api("GET", "/models/").status_code == 200
    # Neither the tests nor the benchmarks (with their unchecked pickle loader) ship.
    stack.compose("exec", "-T", "web", "sh", "-c", "test ! -e /app/tests && test ! -e /app/bench")
    info = stack.api("GET", "/info/").json()
    assert (info["build_time"], info["git_revision"]) == (
        stack.env["BUILD_TIME"],
        stack.env["GIT_REVISION"],
    )


def test_the_smoke_script_passes_through_the_published_port(stack):
    with step("scripts/smoke.py"):
        result = subprocess.run(
            [sys.executable, "scripts/smoke.py", f"--url={stack.url}", f"--token={stack.token}"],
            cwd=support.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "smoke test passed"


def test_the_console_and_its_static_files_come_from_the_container(stack):
    page = requests.get(f"{stack.url}/console/sign-in/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self';")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert sorted(asset.rsplit("/", 1)[1] for asset in assets) == ["console.css", "htmx-2.min.js"]
    for asset in assets:
        assert requests.get(f"{stack.url}{asset}", timeout=10).status_code == 200, asset


def test_only_web_is_published(stack):
    published = {}
    for service in ("db", "redis", "web", "algorithm", "algorithm_celery", "scheduler"):
        for container in stack.containers(service):
            ports = stack.inspect(container)["NetworkSettings"]["Ports"] or {}
            bound = {port: hosts for port, hosts in ports.items() if hosts}
            if bound:
                published[service] = bound
    assert set(published) == {"web"}
    assert [(host["HostIp"], host["HostPort"]) for host in published["web"]["8000/tcp"]] == [
        ("127.0.0.1", str(stack.port))
    ]
    assert requests.get(f"{stack.url}/api/health/", timeout=5).status_code == 200
    # The host's own address on its network: nothing answers there.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # picks the outgoing address; sends nothing
        address = probe.getsockname()[0]
    assert address != "127.0.0.1"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}:{stack.port}/api/health/", timeout=5)
