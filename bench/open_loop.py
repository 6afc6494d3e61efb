"""An open-loop HTTP load generator: requests go out on a fixed schedule, whatever the answers
do, and each one's latency runs from its scheduled send time. A closed loop (wrk: each
connection waits for its answer before sending again) sends nothing while the server stalls,
so the requests that were due meanwhile never show up in its tail (coordinated omission).

Usage: ``python -m bench.open_loop --url URL --rate R --seconds S [--body-file F | -]
[--header 'Name: value' ...] [--poisson [--seed N]] [--warmup S] [--timeout S] [--drain S]
[--max-connections N]``; prints one JSON object. ``run`` starts it as a child process, so its
CPU is spent apart from the caller's, and returns that object.
"""

import argparse
import asyncio
import collections
import gc
import json
import math
import random
import resource
import selectors
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from bench.load import PERCENTILES, REPO_ROOT, figure, figure_from_latencies

MAX_CONNECTIONS = 512
TIMEOUT_SECONDS = 10.0
# Every latency includes the generator's own lateness in sending it, and a late send means
# its loop was busy or its process waited for a core, so its answers were read late too. A
# run is valid when the send lag's p99 is at most this: a third of the lowest p99 the bench
# reports for an HTTP path (about 3 ms), several times what an unstarved generator shows.
MAX_SEND_LAG_P99_MS = 1.0
# A timed-out request is found by a sweep this often, not by a timer per request.
_SWEEP_SECONDS = 0.05
# Body framings besides a Content-Length.
_CHUNKED, _UNTIL_CLOSE = -1, -2


def run(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    rate: float,
    seconds: float,
    *,
    poisson: bool = False,
    seed: int = 0,
    warmup: float = 0.0,
    timeout: float = TIMEOUT_SECONDS,
    drain: float | None = None,
    max_connections: int = MAX_CONNECTIONS,
) -> dict:
    """One open-loop run of `rate` POSTs per second for `seconds`, in a child process."""
    drain = timeout if drain is None else drain
    command = [sys.executable, "-m", "bench.open_loop", "--url", url, "--rate", repr(rate)]
    command += ["--seconds", repr(seconds), "--warmup", repr(warmup), "--timeout", repr(timeout)]
    command += ["--drain", repr(drain), "--max-connections", str(max_connections)]
    command += ["--poisson", "--seed", str(seed)] if poisson else []
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run(
        command, input=body, capture_output=True, cwd=REPO_ROOT, timeout=seconds + drain + 60
    )
    if done.returncode:
        raise RuntimeError(f"open-loop load on {url} failed:\n{done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)


def schedule(rate: float, seconds: float, poisson: bool, seed: int) -> list[float]:
    """Send times from the start, in seconds: every 1/rate, or Poisson arrivals of that
    mean rate (exponential gaps from a generator seeded with `seed`, so a run repeats)."""
    if not poisson:
        return [i / rate for i in range(math.floor(rate * seconds + 1e-9))]
    arrivals = random.Random(seed)
    offsets, at = [], arrivals.expovariate(rate)
    while at < seconds:
        offsets.append(at)
        at += arrivals.expovariate(rate)
    return offsets


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time, with a response parser just big
    enough for a server's answers: status line, headers, Content-Length or chunked body."""

    def __init__(self, load: "_Load") -> None:
        self.load = load
        self.transport: asyncio.Transport  # from connection_made
        self.buffer = bytearray()
        self.scheduled: float | None = None  # of the request in flight
        self.status: int | None = None
        self.length = 0
        self.closing = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def send(self, scheduled: float) -> None:
        self.scheduled = scheduled
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        if self.scheduled is None:  # nothing was asked: the connection is out of step
            self.drop()
            return
        self.buffer += data
        if self._parsed():
            self.load.answered(self, self.status or 0)

    def _parsed(self) -> bool:
        """Whether the buffer holds the whole answer (consumed then)."""
        buffer = self.buffer
        if self.status is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = bytes(buffer[:end]).split(b"\r\n")
            del buffer[: end + 4]
            status = int(lines[0].split(b" ", 2)[1])
            if status < 200:  # an interim answer (100 Continue): the real one follows
                return self._parsed()
            self.status, self.length = status, 0 if status in (204, 304) else _UNTIL_CLOSE
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == b"content-length":
                    self.length = int(value)
                elif name == b"transfer-encoding" and value.endswith(b"chunked"):
                    self.length = _CHUNKED
                elif name == b"connection":
                    self.closing = value == b"close"
        if self.length == _UNTIL_CLOSE:
            return False  # the close completes it, in connection_lost
        if self.length == _CHUNKED:
            end = _chunked_end(buffer)
            if end < 0:
                return False
            del buffer[:end]
        elif len(buffer) >= self.length:
            del buffer[: self.length]
        else:
            return False
        return True

    def done(self) -> None:
        """Ready for the next request, or closed if the server asked for it."""
        self.scheduled, self.status = None, None
        if self.closing or self.buffer:
            self.drop()
        else:
            self.load.available(self)

    def drop(self) -> None:
        self.scheduled = None
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.scheduled is not None and self.status is not None and self.length == _UNTIL_CLOSE:
            self.length, self.closing = 0, True
            self.load.answered(self, self.status)
        self.load.lost(self)


def _chunked_end(buffer: bytearray) -> int:
    """Where a chunked body ends in the buffer (after its last chunk and trailers), or -1."""
    at = 0
    while (line_end := buffer.find(b"\r\n", at)) >= 0:
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        if size == 0:
            end = buffer.find(b"\r\n\r\n", line_end)
            return -1 if end < 0 else end + 4
        at = line_end + 2 + size + 2
    return -1


class _Load:
    """Sends each request at its time on an idle connection, or on a new one up to the cap;
    past the cap, requests wait their turn in order (and their wait is latency too)."""

    def __init__(self, url: str, body: bytes, headers: Mapping[str, str], args) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"an http:// URL is needed, not {url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        fields = {"Host": parts.netloc, "Content-Type": "application/json", **headers}
        fields["Content-Length"] = str(len(body))
        head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
        self.request = f"POST {path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body
        self.offsets = schedule(args.rate, args.seconds, args.poisson, args.seed)
        self.args = args
        self.idle: list[_Connection] = []  # the last used on top: the fewest stay warm
        self.busy: set[_Connection] = set()
        self.waiting: collections.deque[float] = collections.deque()
        self.opening = self.open = self.opened = self.most_open = 0
        self.cap_hit = 0  # requests that waited because the cap was reached
        self.sent = self.finished = 0
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.errors = collections.Counter[str]()

    async def run(self) -> None:
        """Runs the schedule, then waits for the answers until the drain's end."""
        self.loop = asyncio.get_running_loop()
        self.all_done = self.loop.create_future()
        self.t0 = time.monotonic() + 0.01
        self.counted_from = self.t0 + self.args.warmup
        self.next = 0
        if not self.offsets:
            return
        self.loop.call_at(self.t0, self._tick)
        self.loop.call_at(self.t0 + _SWEEP_SECONDS, self._sweep)
        drain = self.args.timeout if self.args.drain is None else self.args.drain
        end = self.t0 + self.args.seconds + drain
        try:
            await asyncio.wait_for(self.all_done, max(0.0, end - time.monotonic()))
        except TimeoutError:
            for scheduled in [*self.waiting, *(c.scheduled for c in self.busy)]:
                self._error("timeout", scheduled)
            self.waiting.clear()
        for connection in [*self.idle, *self.busy]:
            connection.drop()
        await asyncio.sleep(0)  # the aborted transports close their sockets

    def _tick(self) -> None:
        offsets, t0 = self.offsets, self.t0
        while self.next < len(offsets) and (now := time.monotonic()) >= t0 + offsets[self.next]:
            scheduled = t0 + offsets[self.next]
            self.next += 1
            if scheduled >= self.counted_from:
                self.lags.append(now - scheduled)
            self.sent += 1
            if self.idle:
                self._send(self.idle.pop(), scheduled)
            else:
                self.waiting.append(scheduled)
                self._connect()
        if self.next < len(offsets):
            self.loop.call_at(t0 + offsets[self.next], self._tick)

    def _send(self, connection: _Connection, scheduled: float) -> None:
        self.busy.add(connection)
        connection.send(scheduled)

    def _connect(self) -> None:
        """Opens a connection for each waiting request that none is opening for yet."""
        while len(self.waiting) > self.opening:
            if self.open + self.opening >= self.args.max_connections:
                self.cap_hit += 1
                return
            self.opening += 1
            self.loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            _, connection = await self.loop.create_connection(
                lambda: _Connection(self), self.host, self.port
            )
        except OSError:
            self.opening -= 1
            if self.waiting:
                self._error("connection", self.waiting.popleft())
            return
        self.opening -= 1
        self.open += 1
        self.opened += 1
        self.most_open = max(self.most_open, self.open)
        self.available(connection)

    def available(self, connection: _Connection) -> None:
        if self.waiting:
            self._send(connection, self.waiting.popleft())
        else:
            self.idle.append(connection)

    def answered(self, connection: _Connection, status: int) -> None:
        scheduled = connection.scheduled
        self.busy.discard(connection)
        if 200 <= status < 300:
            if scheduled >= self.counted_from:
                self.latencies.append(time.monotonic() - scheduled)
            self._finish()
        else:
            self._error("status", scheduled)
        connection.done()

    def lost(self, connection: _Connection) -> None:
        """A connection closed, by either side: its request in flight failed."""
        self.open -= 1
        if connection in self.idle:
            self.idle.remove(connection)
        elif connection in self.busy and connection.scheduled is not None:
            self.busy.discard(connection)
            self._error("connection", connection.scheduled)
        self._connect()

    def _sweep(self) -> None:
        deadline = time.monotonic() - self.args.timeout
        while self.waiting and self.waiting[0] < deadline:
            self._error("timeout", self.waiting.popleft())
        for connection in [c for c in self.busy if c.scheduled and c.scheduled < deadline]:
            self.busy.discard(connection)
            self._error("timeout", connection.scheduled)
            connection.drop()
        if not self.all_done.done():
            self.loop.call_later(_SWEEP_SECONDS, self._sweep)

    def _error(self, kind: str, scheduled: float | None) -> None:
        if scheduled is not None and scheduled >= self.counted_from:
            self.errors[kind] += 1
        self._finish()

    def _finish(self) -> None:
        self.finished += 1
        if self.finished == len(self.offsets) and not self.all_done.done():
            self.all_done.set_result(None)

    def figures(self, cpu_seconds: float) -> dict:
        args, counted = self.args, sum(o >= self.args.warmup for o in self.offsets)
        seconds = args.seconds - args.warmup
        errors = sum(self.errors.values())
        if self.latencies:
            result = figure_from_latencies([s * 1000 for s in self.latencies], seconds, errors)
        else:
            result = figure(0, seconds, errors, {f"{p:g}": 0.0 for p in PERCENTILES})
        lags = sorted(self.lags) or [0.0]
        lag_p99_ms = lags[math.ceil(0.99 * len(lags)) - 1] * 1000
        return result | {
            "arrivals": "poisson" if args.poisson else "constant",
            "rate": args.rate,
            "scheduled": len(self.offsets),
            "warmup_requests": len(self.offsets) - counted,
            "sent": self.sent,
            "completed": len(self.latencies) + self.errors["status"],
            "max_ms": round(max(self.latencies, default=0.0) * 1000, 3),
            "errors_status": self.errors["status"],
            "errors_connection": self.errors["connection"],
            "errors_timeout": self.errors["timeout"],
            "send_lag_ms": {
                "50": round(lags[len(lags) // 2] * 1000, 3),
                "99": round(lag_p99_ms, 3),
                "max": round(lags[-1] * 1000, 3),
            },
            "valid": self.sent == len(self.offsets) and lag_p99_ms <= MAX_SEND_LAG_P99_MS,
            "connections_opened": self.opened,
            "connections_most_open": self.most_open,
            "waited_at_cap": self.cap_hit,
            "cpu_seconds": round(cpu_seconds, 3),
            "cpu_ms_per_request": round(cpu_seconds * 1000 / max(1, self.sent), 4),
        }


def _header(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError(f"a header is 'Name: value', not {line!r}")
    return name.strip(), value.strip()


def _cpu_seconds() -> float:
    return sum(resource.getrusage(resource.RUSAGE_SELF)[:2])  # user and system


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.open_loop", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--body-file", default="-", help="the POST body; - reads stdin")
    parser.add_argument("--header", type=_header, action="append", default=[], help="Name: value")
    parser.add_argument("--poisson", action="store_true", help="Poisson arrivals, seeded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=float, default=0.0, help="first seconds not counted")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS, help="per request")
    parser.add_argument("--drain", type=float, help="bound after the schedule (the timeout)")
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    args = parser.parse_args(argv)
    body = sys.stdin.buffer.read() if args.body_file == "-" else Path(args.body_file).read_bytes()
    load = _Load(args.url, body, dict(args.header), args)
    # select() sleeps to the microsecond, epoll (and uvloop's timers) to the millisecond,
    # which alone would make sends up to 1 ms late. Its cost grows with the connections
    # open, which the cap keeps small (and below select's limit of 1,024 descriptors).
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    gc.disable()  # a collection's pause would be a late send
    cpu_before = _cpu_seconds()
    try:
        loop.run_until_complete(load.run())
    finally:
        loop.close()
    print(json.dumps(load.figures(_cpu_seconds() - cpu_before)))


if __name__ == "__main__":
    main()
