"""`make test` and `make run` get PostgreSQL and Redis through scripts/with_services.py."""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests import support

pytestmark = pytest.mark.slow

SCRIPT = str(support.REPO_ROOT / "scripts" / "with_services.py")
PROBE = (
    "import os, psycopg2, redis; "
    "psycopg2.connect(os.environ['DATABASE_URL'], connect_timeout=5).close(); "
    "redis.Redis.from_url(os.environ['REDIS_URL'], socket_connect_timeout=5).ping(); "
    "print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"
)
# Counts its own runs in a table and a Redis key, so a second run shows what the first kept.
COUNTER = (
    "import os, psycopg2, redis; "
    "conn = psycopg2.connect(os.environ['DATABASE_URL']); conn.autocommit = True; "
    "cur = conn.cursor(); cur.execute('CREATE TABLE IF NOT EXISTS runs (n int)'); "
    "cur.execute('INSERT INTO runs VALUES (1)'); cur.execute('SELECT count(*) FROM runs'); "
    "print(cur.fetchone()[0], redis.Redis.from_url(os.environ['REDIS_URL']).incr('runs'))"
)


def run_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        cwd=support.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def closed_urls() -> dict[str, str]:
    return {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{support.free_port()}/postgres",
        "REDIS_URL": f"redis://127.0.0.1:{support.free_port()}/0",
    }


def assert_closed(url: str) -> None:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert not support.port_open(port), f"{url} still answers after the run"


def test_starts_throwaway_servers_when_none_answers_and_stops_them_after():
    env = {**os.environ, **closed_urls()}
    result = run_script(env, sys.executable, "-c", PROBE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting a throwaway one" in result.stdout
    database_url, redis_url = result.stdout.strip().splitlines()[-1].split()
    assert database_url != env["DATABASE_URL"] and redis_url != env["REDIS_URL"]
    assert_closed(database_url)
    assert_closed(redis_url)


@pytest.fixture
def data_dir():
    # Not under tmp_path: the postgres account, which runs the server when tests run as
    # root, cannot enter pytest's private temporary folder.
    path = pathlib.Path(tempfile.mkdtemp(prefix="textclf-data-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_with_a_data_dir_servers_start_on_the_configured_ports_and_keep_their_data(data_dir):
    env = {**os.environ, **closed_urls()}
    first = run_script(env, "--data-dir", str(data_dir), sys.executable, "-c", COUNTER)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"starting one with its data in {data_dir}" in first.stdout
    assert first.stdout.strip().splitlines()[-1] == "1 1"
    second = run_script(env, "--data-dir", str(data_dir), sys.executable, "-c", COUNTER)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.strip().splitlines()[-1] == "2 2"
    assert_closed(env["DATABASE_URL"])
    assert_closed(env["REDIS_URL"])


def test_when_servers_answer_nothing_is_started():
    result = run_script(dict(os.environ), sys.executable, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    assert "starting" not in result.stdout


def test_without_servers_or_binaries_it_stops_with_one_line(tmp_path: pathlib.Path):
    env = {**os.environ, **closed_urls(), "PATH": str(tmp_path)}
    result = run_script(env, sys.executable, "-c", PROBE)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "PostgreSQL does not answer at DATABASE_URL and initdb/pg_ctl are missing: "
        "install PostgreSQL (apt-get install postgresql) or set DATABASE_URL."
    ]
