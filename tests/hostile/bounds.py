"""What must hold while an attack runs: a legitimate caller's predictions (REST with a
predict-only token, gRPC with the service credential, each with a 1 s deadline) get their
answers, at most 1 % miss; health and liveness answer 200 within 1 s; no web worker's resident
memory grows by 64 MiB or more over its value before the attack; Redis's used_memory grows by
less than 10 MB. These are availability bounds far above normal latency, not performance
claims. Each attack prints its figures, and appends them to the file HOSTILE_FIGURES names."""

import contextlib
import json
import os
import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc
import redis
import requests

from algorithm.v1 import prediction_pb2, prediction_pb2_grpc
from tests import support

DEADLINE_SECONDS = 1.0
MISS_FRACTION = 0.01
RSS_GROWTH_BYTES = 64 * 2**20
REDIS_GROWTH_BYTES = 10 * 10**6
PAUSE_SECONDS = 0.05
HEALTH_EVERY_SECONDS = 0.25
LEGITIMATE_TEXT = "WINNER!! You have won a free prize, call 09061701461 now to claim"


@dataclass
class Attack:
    """The figures of one attack, gathered while it runs."""

    name: str
    answers: int = 0
    misses: list[str] = field(default_factory=list)
    probes: int = 0
    slow_probes: list[str] = field(default_factory=list)
    slowest_probe: float = 0.0
    rss_before: dict[int, int] = field(default_factory=dict)
    rss_peak: dict[int, int] = field(default_factory=dict)
    redis_before: int = 0
    redis_after: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, seconds: float) -> None:
        """Hold the attack for this long while the legitimate traffic runs."""
        time.sleep(seconds)

    def rss_growth(self) -> int:
        return max(
            (self.rss_peak.get(pid, rss) - rss for pid, rss in self.rss_before.items()), default=0
        )

    def figures(self) -> dict:
        return {
            "attack": self.name,
            "answers": self.answers,
            "missed": len(self.misses),
            "health_probes": self.probes,
            "slowest_probe_s": round(self.slowest_probe, 3),
            "web_rss_before_mib": {pid: rss >> 20 for pid, rss in self.rss_before.items()},
            "web_rss_growth_mib": round(self.rss_growth() / 2**20, 1),
            "redis_growth_mb": round((self.redis_after - self.redis_before) / 10**6, 2),
        }


@contextlib.contextmanager
def held(stack, name: str) -> Iterator[Attack]:
    """Run the legitimate caller and the probes for the block's duration, then check the
    bounds; the block runs the attack."""
    attack = Attack(name)
    pids = web_worker_pids(stack.env["WEB_PORT"])
    assert pids, "no web worker found"
    attack.rss_before = {pid: rss_bytes(pid) for pid in pids}
    attack.rss_peak = dict(attack.rss_before)
    attack.redis_before = redis_used_memory()
    threads = [
        threading.Thread(target=_loop, args=(attack, call), daemon=True)
        for call in (
            _rest_caller(stack, keep_alive=True),
            _rest_caller(stack, keep_alive=False),
            _grpc_caller(stack),
        )
    ]
    threads.append(threading.Thread(target=_probe, args=(attack, stack, pids), daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield attack
    finally:
        attack.stop.set()
        for thread in threads:
            thread.join(timeout=10)
    _sample_rss(attack, pids)
    attack.redis_after = redis_used_memory()
    _report(attack)
    assert attack.answers >= 20, f"{name}: too few legitimate requests to judge ({attack.answers})"
    sent = attack.answers + len(attack.misses)
    assert len(attack.misses) <= MISS_FRACTION * sent, (
        f"{name}: {len(attack.misses)} of {sent} legitimate requests missed: {attack.misses[:5]}"
    )
    assert not attack.slow_probes, f"{name}: health probes failed: {attack.slow_probes[:5]}"
    assert attack.rss_growth() < RSS_GROWTH_BYTES, f"{name}: {attack.figures()}"
    redis_growth = attack.redis_after - attack.redis_before
    assert redis_growth < REDIS_GROWTH_BYTES, f"{name}: {attack.figures()}"


def _loop(attack: Attack, call: Callable[[], str | None]) -> None:
    while not attack.stop.is_set():
        started = time.monotonic()
        try:
            failure = call()
        except Exception as error:  # every way a call can fail is a miss, named
            failure = f"{type(error).__name__}: {str(error)[:120]}"
        elapsed = time.monotonic() - started
        if failure is None and elapsed > DEADLINE_SECONDS:
            failure = f"answered after {elapsed:.2f} s"
        with attack.lock:
            if failure is None:
                attack.answers += 1
            else:
                attack.misses.append(failure)
        attack.stop.wait(PAUSE_SECONDS)


def _rest_caller(stack, keep_alive: bool) -> Callable[[], str | None]:
    session = requests.Session()
    url = f"{stack.web}/api/predict/"

    def call() -> str | None:
        post = session.post if keep_alive else requests.post
        response = post(
            url,
            json={"text": LEGITIMATE_TEXT},
            headers=stack.predict_headers,
            timeout=(DEADLINE_SECONDS, DEADLINE_SECONDS),
        )
        if response.status_code != 200:
            return f"REST {response.status_code}: {response.text[:120]}"
        return None

    return call


def _grpc_caller(stack) -> Callable[[], str | None]:
    stub = prediction_pb2_grpc.PredictionServiceStub(support.service_channel(stack.grpc))

    def call() -> str | None:
        try:
            stub.Predict(
                prediction_pb2.PredictRequest(text=LEGITIMATE_TEXT), timeout=DEADLINE_SECONDS
            )
        except grpc.RpcError as error:
            return f"gRPC {error.code().name}: {error.details()}"
        return None

    return call


def _probe(attack: Attack, stack, pids: list[int]) -> None:
    while not attack.stop.is_set():
        for path in ("/api/health/live/", "/api/health/"):
            started = time.monotonic()
            try:
                status = requests.get(f"{stack.web}{path}", timeout=DEADLINE_SECONDS).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            elapsed = time.monotonic() - started
            with attack.lock:
                attack.probes += 1
                attack.slowest_probe = max(attack.slowest_probe, elapsed)
                if status != 200 or elapsed > DEADLINE_SECONDS:
                    attack.slow_probes.append(f"{path}: {status} after {elapsed:.2f} s")
        _sample_rss(attack, pids)
        attack.stop.wait(HEALTH_EVERY_SECONDS)


def _sample_rss(attack: Attack, pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            rss = rss_bytes(pid)
            with attack.lock:
                attack.rss_peak[pid] = max(attack.rss_peak.get(pid, 0), rss)


def _report(attack: Attack) -> None:
    figures = attack.figures()
    print(f"\nhostile figures: {json.dumps(figures)}")
    if path := os.environ.get("HOSTILE_FIGURES"):
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(figures) + "\n")


def web_worker_pids(port: str) -> list[int]:
    """The worker processes of the web server listening on this port: of the processes whose
    command names web's gunicorn configuration (the shell that started it, its master, its
    workers), those with no child among them."""
    servers = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            if b"web/gunicorn.conf.py" not in command:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if f"WEB_PORT={port}".encode() in environ:
            servers[int(entry.name)] = parent
    parents = set(servers.values())
    return sorted(pid for pid in servers if pid not in parents)


def rss_bytes(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"process {pid} has no resident set")


def redis_used_memory() -> int:
    client = redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()
