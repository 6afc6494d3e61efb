"""The open-loop generator (bench/open_loop.py) against a server whose answers take a known
time (tests/delay_server.py, in its own process): its figures must be that time, and a stall
must show in every request due during it, where a closed loop reports one slow request per
connection. Marked slow, as every test that starts processes: `make test-fast` skips it."""

import asyncio
import concurrent.futures
import sys
import time
from urllib.parse import urlsplit

import numpy as np
import pytest

from bench import open_loop
from tests import support

DELAY_MS = 20
RATE = 200


def test_the_schedule_is_constant_or_seeded_poisson_at_the_rate():
    assert open_loop.schedule(200, 1.5, False, 0) == [i / 200 for i in range(300)]
    poisson = open_loop.schedule(1000, 10, True, 7)
    assert poisson == open_loop.schedule(1000, 10, True, 7) != open_loop.schedule(1000, 10, True, 8)
    # A Poisson count has a standard deviation of its root; exponential gaps, their mean.
    assert abs(len(poisson) - 10_000) < 4 * 10_000**0.5
    gaps = np.diff(poisson)
    assert gaps.std() / gaps.mean() == pytest.approx(1, abs=0.1)
    assert poisson[0] > 0 and poisson[-1] < 10


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = support.free_port()
    server = support.Service(
        "delay-server",
        [sys.executable, "-m", "tests.delay_server", str(port)],
        {},
        tmp_path_factory.mktemp("open-loop"),
    )
    try:
        server.wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def _get_count(url: str, name: str) -> int:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET /count/{name} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    count = int(await reader.readexactly(length))
    writer.close()
    return count


def received(url: str, name: str) -> int:
    return asyncio.run(_get_count(url, name))


@pytest.mark.slow
def test_latency_is_the_servers_delay_and_every_scheduled_request_is_sent(server_url):
    seconds = 1.5
    result = open_loop.run(
        f"{server_url}/run/steady?delay_ms={DELAY_MS}&chunked=1",
        b'{"text": "win a prize"}',
        {"Authorization": "Token x"},
        RATE,
        seconds,
    )

    expected = round(RATE * seconds)
    assert result["scheduled"] == result["sent"] == expected == received(server_url, "steady")
    assert result["requests"] == result["completed"] == expected and result["errors"] == 0
    # No answer comes before the server's delay, counted from the schedule; the median is the
    # delay, and the tail past it is at most the generator's own lateness and the server's.
    assert DELAY_MS <= result["percentiles_ms"]["1"] <= result["p50_ms"] <= DELAY_MS + 10
    assert result["p99_ms"] <= DELAY_MS + result["send_lag_ms"]["max"] + 10
    # About rate x delay = 4 requests in flight: a handful of kept-alive connections serve
    # them all (a late burst of sends may open a few more).
    assert result["connections_opened"] <= expected / 10
    assert result["waited_at_cap"] == 0
    assert result["cpu_seconds"] > 0 and result["cpu_ms_per_request"] > 0
    # Valid when the generator sent on time (a busy machine can starve it: then it says so).
    lag_ms = result["send_lag_ms"]
    assert 0 <= lag_ms["50"] <= lag_ms["99"] <= lag_ms["max"]
    assert result["valid"] == (lag_ms["99"] <= open_loop.MAX_SEND_LAG_P99_MS)


async def _closed_loop(url: str, connections: int, seconds: float) -> list[float]:
    """What a closed-loop tool measures: each connection sends again on an answer."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}"
    request = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode()
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while (sent := time.monotonic()) < end:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(
                int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            )
            latencies.append(time.monotonic() - sent)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies


async def _both_loops(server_url: str, seconds: float, stall: str, connections: int):
    return await asyncio.gather(
        asyncio.to_thread(
            open_loop.run, f"{server_url}/run/stall-open?{stall}", b"{}", {}, RATE, seconds
        ),
        _closed_loop(f"{server_url}/run/stall-closed?{stall}", connections, seconds),
    )


@pytest.mark.slow
def test_a_stall_delays_every_request_due_during_it_which_a_closed_loop_hides(server_url):
    # From 1 s on, the server holds every answer for 0.5 s. The requests scheduled at s in
    # [1 - D, 1.5 - D) are answered at 1.5: latencies 1.5 - s, evenly from D to 0.5 + D,
    # RATE x 0.5 = 100 of the 400 sent; the others take D. Sorted, the q-th percentile past
    # the 75th is the one RATE x seconds x (1 - q) requests from the slowest.
    seconds, stall_s, connections = 2.0, 0.5, RATE * DELAY_MS // 1000
    stall = f"delay_ms={DELAY_MS}&stall_at=1.0&stall_ms={stall_s * 1000:g}"
    result, closed = asyncio.run(_both_loops(server_url, seconds, stall, connections))

    def expected_ms(q: float) -> float:
        return (stall_s + DELAY_MS / 1000 - RATE * seconds * (1 - q) / RATE) * 1000

    assert result["sent"] == RATE * seconds == received(server_url, "stall-open")
    assert result["errors"] == 0
    assert DELAY_MS <= result["p50_ms"] <= DELAY_MS + 10
    # No stalled answer can come before the stall's end; on a busy machine the burst of 100
    # answers at its end may be read some tens of ms late.
    measured = {q: result["percentiles_ms"][f"{q * 100:g}"] for q in (0.90, 0.95, 0.99)}
    for q, figure in (*measured.items(), (1, result["max_ms"])):
        assert expected_ms(q) - 10 <= figure <= expected_ms(q) + 75, (q, figure)
    # Over 250 ms: RATE x (0.5 + D - 0.25) = 54 requests, more than a tenth of them.
    assert result["percentiles_ms"]["90"] > 250
    # The closed loop ran as fast (one connection per D ms of rate) through the same stall,
    # yet only its requests in flight at the stall were slow: one per connection.
    assert len(closed) > 20 * connections
    assert sum(latency > 0.25 for latency in closed) == connections
    assert sorted(closed)[int(0.9 * len(closed))] < 2 * DELAY_MS / 1000


@pytest.mark.slow
def test_waits_past_the_connection_cap_count_as_latency(server_url):
    # Two connections, 40 ms each answer: 50 answers a second for 100 offered. Requests
    # are served in order, the k-th answered at 40 ms x (k // 2 + 1) at the earliest, so the
    # last of the 50 (scheduled at 0.49 s) at 1.0 s: 510 ms after its time, where a measure
    # from the moment it went out would say 40 ms.
    result = open_loop.run(
        f"{server_url}/run/capped?delay_ms=40", b"{}", {}, 100, 0.5, max_connections=2
    )

    assert result["connections_opened"] == 2 and result["waited_at_cap"] > 0
    assert result["requests"] == 50 and result["errors"] == 0
    assert 500 <= result["max_ms"] <= 1.3 * 510


@pytest.mark.slow
def test_errors_are_counted_apart_and_the_run_ends_at_its_deadline(server_url):
    runs = {
        "refused": (f"http://127.0.0.1:{support.free_port()}/", {}),
        "failing": (f"{server_url}/run/failing?status=503", {}),
        "hung": (f"{server_url}/run/hung?delay_ms=60000", {"timeout": 0.3}),
    }
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        futures = {
            name: pool.submit(open_loop.run, url, b"{}", {}, 50, 0.4, **options)
            for name, (url, options) in runs.items()
        }
        refused, failing, hung = (futures[name].result() for name in runs)

    for result, kind in ((refused, "connection"), (failing, "status"), (hung, "timeout")):
        assert result[f"errors_{kind}"] == result["sent"] == 20 == result["errors"], result
        assert result["requests"] == 0
    assert failing["completed"] == 20
    # The last request of the hung run is due at 0.38 s and times out 0.3 s later (found by a
    # sweep within 50 ms), not at the default 10 s.
    assert time.monotonic() - started < 0.4 + 0.3 + 5  # child processes start in this
