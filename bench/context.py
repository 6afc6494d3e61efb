"""What every section gets: the running stack, the sizes, the models trained so far, and the
sample texts; and the way figures are taken side by side."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import load
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
    # The sections' figures so far, by section name.
    results: dict[str, Any] = field(default_factory=dict)

    def http(self, server: str, path: str, body: dict, concurrency: int, seconds: float) -> dict:
        authorization = {
            "http": support.service_authorization(),  # the shim wants the service credential
            **dict.fromkeys(UNAUTHENTICATED_SERVERS, ""),
        }.get(server, f"Token {API_TOKEN}")
        return load.wrk(self.stack.url(server, path), body, concurrency, seconds, authorization)

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


def side_by_side(runs: dict[str, Callable[[], dict]], repetitions: int) -> dict[str, dict]:
    """Median figures of each run, the runs interleaved repetition by repetition so that a
    change in the machine's load hits every one of them alike."""
    collected: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(repetitions):
        for name, run in runs.items():
            collected[name].append(run())
    return {name: load.median_figure(figures) for name, figures in collected.items()}


# Between two in-process calls. A loop that never waits is taken by a busy machine's
# scheduler for a CPU hog and gets slices late, while the servers it is compared with wait
# for their next request like this.
IN_PROCESS_PAUSE_SECONDS = 0.001


def timed_loop(call: Callable[[], Any], seconds: float) -> dict:
    """Call one at a time for `seconds` in this process: the in-process figure."""
    call()
    latencies = []
    end = time.perf_counter() + seconds
    began = time.perf_counter()
    while (start := time.perf_counter()) < end:
        call()
        latencies.append((time.perf_counter() - start) * 1000)
        time.sleep(IN_PROCESS_PAUSE_SECONDS)
    return load.figure_from_latencies(latencies, time.perf_counter() - began, errors=0)
