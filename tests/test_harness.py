"""`make test` runs the suite through tests.harness, which supplies PostgreSQL and Redis."""

import os
import pathlib
import subprocess
import sys

import pytest

from tests import support

pytestmark = pytest.mark.slow

PROBE = (
    "import os, psycopg2, redis; "
    "psycopg2.connect(os.environ['DATABASE_URL'], connect_timeout=5).close(); "
    "redis.Redis.from_url(os.environ['REDIS_URL'], socket_connect_timeout=5).ping(); "
    "print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"
)


def run_harness(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.harness", sys.executable, "-c", PROBE],
        cwd=support.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_starts_throwaway_servers_when_none_answers_and_stops_them_after():
    closed = {name: support.free_port() for name in ("postgres", "redis")}
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed['postgres']}/postgres",
        "REDIS_URL": f"redis://127.0.0.1:{closed['redis']}/0",
    }
    result = run_harness(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting a throwaway one" in result.stdout
    database_url, redis_url = result.stdout.strip().splitlines()[-1].split()
    assert database_url != env["DATABASE_URL"] and redis_url != env["REDIS_URL"]
    for url in (database_url, redis_url):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert not support.port_open(port), f"{url} still answers after the run"


def test_without_servers_or_binaries_it_stops_with_one_line(tmp_path: pathlib.Path):
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{support.free_port()}/postgres",
        "PATH": str(tmp_path),
    }
    result = run_harness(env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "PostgreSQL does not answer at DATABASE_URL and initdb/pg_ctl are missing: "
        "install PostgreSQL (apt-get install postgresql) or set DATABASE_URL."
    ]
