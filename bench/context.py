"""What every section gets: the running stack, the sizes, the models trained so far, and the
sample texts; and the way figures are taken side by side."""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from algorithm.domain.store import ModelStore
from bench import load, open_loop
from bench.sizes import Sizes
from bench.stack import API_TOKEN, Stack
from tests import support

# A typical SMS: what one prediction is asked about.
SAMPLE_TEXT = (
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. "
    "Text FA to 87121 to receive entry question(std txt rate)"
)

# The reference servers of other projects, which take no credential.
UNAUTHENTICATED_SERVERS = ("mlflow", "kserve", "bentoml")


@dataclass
class Context:
    stack: Stack
    sizes: Sizes
    # Named model versions: "sms" (the SMS set, active), "large" (data_rows[0] rows).
    models: dict[str, str] = field(default_factory=dict)
    # The rows each named model was trained on.
    model_rows: dict[str, int] = field(default_factory=dict)
    # Each named version's check of the fast runtime against scikit-learn on its held-out
    # texts, from its manifest (read when it is named: later sections may delete it).
    model_runtimes: dict[str, Any] = field(default_factory=dict)
    # The sections' figures so far, by section name.
    results: dict[str, Any] = field(default_factory=dict)

    def name_model(self, name: str, model_id: str, rows: int) -> None:
        self.models[name], self.model_rows[name] = model_id, rows
        manifest = ModelStore(self.stack.model_dir).read_manifest(model_id)
        self.model_runtimes[name] = manifest.get("runtime")

    @staticmethod
    def _authorization(server: str) -> str:
        return {
            "http": support.service_authorization(),  # the shim wants the service credential
            **dict.fromkeys(UNAUTHENTICATED_SERVERS, ""),
        }.get(server, f"Token {API_TOKEN}")

    def http(self, server: str, path: str, body: dict, concurrency: int, seconds: float) -> dict:
        authorization = self._authorization(server)
        return load.wrk(self.stack.url(server, path), body, concurrency, seconds, authorization)

    def alternating(
        self, servers: Sequence[str], path: str, body: dict, seconds: float
    ) -> dict[str, dict]:
        """One request at a time to each server in turn (load.alternating); the servers take
        one credential."""
        (authorization,) = {self._authorization(server) for server in servers}
        urls = {server: self.stack.url(server, path) for server in servers}
        return load.alternating(urls, body, seconds, authorization)

    def open_loop(self, server: str, path: str, body: dict, rate: float, seconds: float) -> dict:
        """Requests sent at a fixed `rate` a second whatever the answers (bench/open_loop.py):
        p50_ms, p99_ms, completed, errors, rate."""
        headers = {"Content-Type": "application/json"}
        if authorization := self._authorization(server):
            headers["Authorization"] = authorization
        url = self.stack.url(server, path)
        return open_loop.run(url, json.dumps(body).encode(), headers, rate, seconds)

    def grpc(self, server: str, method: str, request: dict, concurrency: int, seconds: float):
        return load.grpc(self.stack.grpc_target(server), method, request, concurrency, seconds)


WARM_UP_SECONDS = 90


def warm_up(run: Callable[[int, float], dict], concurrency: int = 8) -> None:
    """Load a path until its answers come steadily: each process of a server opens its
    connections (database, Redis, the algorithm service) on its first requests, and some
    servers (mlflow's) import on them too, which takes seconds on a busy machine."""
    deadline = time.monotonic() + WARM_UP_SECONDS
    while time.monotonic() < deadline:
        figure = run(concurrency, 1)
        # No error and no call that waited a second: no process is still starting.
        answered = figure["requests"] >= concurrency and not figure["errors"]
        if answered and figure["percentiles_ms"]["99.9"] < 1000:
            return


def side_by_side(
    runs: dict[str, Callable[[], dict]],
    repetitions: int,
    summarize: Callable[[Sequence[dict]], dict] = load.median_figure,
) -> dict[str, dict]:
    """The median figures of each run (`summarize`), and every repetition's in "runs"; the
    runs interleaved repetition by repetition, so that a change in the machine's load hits
    every one of them alike, and their order rotated by one each repetition, so that none is
    always first (after a pause) or always after the same neighbour."""
    names = list(runs)
    collected: dict[str, list[dict]] = {name: [] for name in names}
    for repetition in range(repetitions):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            collected[name].append(runs[name]())
    return {name: {**summarize(figures), "runs": figures} for name, figures in collected.items()}


# Between two calls of the cold in-process loop: as a server waits for its next request one
# call at a time, long enough for the caches to cool (and for a busy machine's scheduler not
# to take the loop for a CPU hog).
COLD_PAUSE_SECONDS = 0.001


def timed_loop(call: Callable[[], Any], seconds: float, pause: float = 0.0) -> dict:
    """Call one at a time for `seconds` in this process, `pause` seconds between two calls:
    the in-process figure, warm (no pause) or cold."""
    call()
    latencies = []
    end = time.perf_counter() + seconds
    began = time.perf_counter()
    while (start := time.perf_counter()) < end:
        call()
        latencies.append((time.perf_counter() - start) * 1000)
        if pause:
            time.sleep(pause)
    return load.figure_from_latencies(latencies, time.perf_counter() - began, errors=0)
