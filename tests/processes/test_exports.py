"""Exports as web serves them (gunicorn, uvicorn, Django on the thread pool through a2wsgi):
streamed in constant memory, and at most EXPORT_MAX_CONCURRENT at once, with a slow reader
holding its slot only until it goes away."""

import pathlib
import secrets
import socket

import psycopg2
import pytest
import requests

from tests import support

pytestmark = pytest.mark.slow

SMALL, LARGE = 10_000, 100_000
# About 55 MB of CSV for the large export: holding its rows would take far more memory than
# the bound below, and no socket buffer holds it, so a reader that stops reading stalls it.
TEXT = "x" * 500
# What the web process's peak memory may grow by from the small export to the large one.
GROWTH_BOUND = 16 << 20


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("exports")
    with support.isolated_env("exports", workdir) as env:
        env.update(
            API_TOKEN=secrets.token_hex(20),
            DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
            WEB_WORKERS="1",  # the limit is per process: every request meets the same one
            EXPORT_MAX_CONCURRENT="2",
        )
        support.run_checked("python -m web.manage release", env)
        conn = psycopg2.connect(env["DATABASE_URL"])
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO data (text, label, source, created_at, updated_at) "
                    "SELECT %s || g, CASE WHEN g <= %s THEN 'small' ELSE 'large' END, 'api', "
                    "now(), now() FROM generate_series(1, %s) AS g",
                    (TEXT, SMALL, LARGE),
                )
        finally:
            conn.close()
        process = support.Service("web", support.procfile_command("web"), env, workdir)
        try:
            process.wait_for_port(int(env["WEB_PORT"]))
            yield env, process
        finally:
            process.stop()


def _url(env, query: str = "") -> str:
    return f"http://127.0.0.1:{env['WEB_PORT']}/api/data/export/{query}"


def _auth(env) -> dict[str, str]:
    return {"Authorization": f"Token {env['API_TOKEN']}"}


def _worker_peak_bytes(process: support.Service) -> int:
    """The peak resident memory of gunicorn's one worker (VmHWM), the process that exports."""
    master = process.process.pid
    (worker,) = pathlib.Path(f"/proc/{master}/task/{master}/children").read_text().split()
    for line in pathlib.Path(f"/proc/{worker}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _export_lines(env, query: str) -> int:
    """Read an export to its end, keeping none of it; its lines."""
    lines = 0
    with requests.get(_url(env, query), headers=_auth(env), stream=True, timeout=60) as response:
        assert response.status_code == 200, response.text
        for chunk in response.iter_content(1 << 16):
            lines += chunk.count(b"\r\n")
    return lines


def test_ten_times_the_rows_take_no_more_memory(web):
    env, process = web
    # The first export of a process brings in what every export uses (modules, connection).
    assert _export_lines(env, "?label=small") == SMALL + 1
    small_peak = _worker_peak_bytes(process)

    assert _export_lines(env, "") == LARGE + 1
    large_peak = _worker_peak_bytes(process)

    assert large_peak - small_peak < GROWTH_BOUND, (small_peak, large_peak)


def _stalled_reader(env) -> socket.socket:
    """An export whose client reads its first bytes, then stops reading."""
    reader = socket.create_connection(("127.0.0.1", int(env["WEB_PORT"])), timeout=10)
    reader.sendall(
        b"GET /api/data/export/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Token {env['API_TOKEN']}\r\n\r\n".encode()
    )
    assert reader.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
    return reader


def test_stalled_readers_hold_their_slots_only_until_they_go(web):
    env, process = web
    readers = [_stalled_reader(env), _stalled_reader(env)]
    try:
        refused = requests.get(_url(env), headers=_auth(env), timeout=10)
        # Every other request is still answered on the threads the exports leave.
        listed = requests.get(
            f"http://127.0.0.1:{env['WEB_PORT']}/api/data/?page_size=1",
            headers=_auth(env),
            timeout=10,
        )

        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "10"
        assert refused.json()["extra"] == {"retry_after_seconds": 10, "max_concurrent": 2}
        assert listed.status_code == 200
    finally:
        readers[0].close()

    # The export of the reader that left stops at its next batch, long before its end.
    support.wait_until(
        lambda: "Export of data stopped after" in process.output(), 30, "the export stopping"
    )
    try:
        assert _export_lines(env, "?label=small") == SMALL + 1
    finally:
        readers[1].close()
