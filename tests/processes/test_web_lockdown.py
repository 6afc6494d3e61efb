"""The public web process as it runs in production (gunicorn, two workers, DEBUG off):
the write budget is one budget across its workers, unknown hosts and paths get no debug
page, and no secret it was given ever reaches a log file."""

import pathlib
import secrets

import pytest
import requests

from common import settings as common_settings
from tests import support

pytestmark = pytest.mark.slow

WRITE_BUDGET = 4


@pytest.fixture(scope="module")
def web(algorithm_services, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("web-lockdown")
    env = {
        **algorithm_services.env,
        "API_TOKEN": secrets.token_hex(20),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "THROTTLE_RATE_WRITE": f"{WRITE_BUDGET}/day",
        "WEB_WORKERS": "2",
        "LOG_DIR": str(workdir / "log"),
    }
    support.run_checked("python -m web.manage ensure_api_token", env)
    process = support.Service("web", support.procfile_command("web"), env, workdir)
    try:
        process.wait_for_port(int(env["WEB_PORT"]))
        yield env, f"http://127.0.0.1:{env['WEB_PORT']}/api", process
    finally:
        process.stop()


def test_the_write_budget_is_shared_by_the_workers(web):
    env, api, _ = web
    headers = {"Authorization": f"Token {env['API_TOKEN']}"}
    row = {"text": "WINNER! Claim your prize", "label": "spam"}
    # A new connection each time, so the requests spread over both workers.
    statuses = [
        requests.post(f"{api}/data/", json=row, headers=headers, timeout=10).status_code
        for _ in range(WRITE_BUDGET)
    ]
    refused = requests.post(f"{api}/data/", json=row, headers=headers, timeout=10)

    assert statuses == [201] * WRITE_BUDGET
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 86_400
    assert refused.json()["extra"] == {"retry_after_seconds": int(refused.headers["Retry-After"])}
    assert requests.get(f"{api}/data/", headers=headers, timeout=10).status_code == 200


def test_no_debug_pages_and_only_the_allowed_hosts(web):
    _, api, _ = web
    missing = requests.get(f"{api}/no-such-thing/", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not found.", "extra": {}})
    foreign = requests.get(f"{api}/health/", headers={"Host": "evil.example"}, timeout=10)
    assert (foreign.status_code, foreign.json()) == (
        400,
        {"message": "Bad request.", "extra": {}},
    )


def test_no_secret_reaches_a_log_file(web, algorithm_services):
    env, api, process = web
    token = env["API_TOKEN"]
    auth = {"Authorization": f"Token {token}"}
    # Requests that carry the token, or a near miss of it, and go right or wrong in various
    # ways; none spends the write budget.
    requests.get(f"{api}/data/", headers={"Authorization": f"Token {token}x"}, timeout=10)
    requests.post(f"{api}/predict/", data="{", headers=auth, timeout=10)
    requests.post(f"{api}/predict/", json={"text": "win a prize"}, headers=auth, timeout=10)
    requests.post(f"{api}/train/", json={}, headers={"X-Api-Token": token}, timeout=10)
    requests.get(f"{api}/log/?lines=1000", headers=auth, timeout=10)

    log_dirs = {pathlib.Path(env["LOG_DIR"]), pathlib.Path(algorithm_services.env["LOG_DIR"])}
    files = [path for folder in log_dirs for path in folder.glob("*.log")]
    files += [process.log_path, *process.log_path.parent.parent.glob("algorithm-services*/*.out")]
    assert {path.name for path in files} >= {"web.log", "algorithm-grpc.log", "worker.log"}
    leaked = {
        (path.name, name)
        for path in files
        for name, value in (
            ("API_TOKEN", token),
            ("DJANGO_SECRET_KEY", env["DJANGO_SECRET_KEY"]),
            ("MODEL_SIGNING_KEY", common_settings.MODEL_SIGNING_KEY),
        )
        if value in path.read_text(errors="replace")
    }
    assert leaked == set()
