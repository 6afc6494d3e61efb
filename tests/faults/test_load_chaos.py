"""A minute of steady mixed traffic through web while a worker is SIGKILLed and the
algorithm server restarted: no row answered 201 is lost, no request hangs past its
deadline, and the only failures are the ones those faults explain.

Marked chaos (run by `make chaos`): it lasts about two minutes and loads both cores of the
machine for one, which `make test` cannot afford on every run.
"""

import collections
import concurrent.futures
import dataclasses
import itertools
import statistics
import threading
import time
import uuid

import pytest
import requests

from algorithm.domain.training import model_id_for_job
from tests import support
from tests.faults.conftest import LEASE_SECONDS, Stack, running_stack

pytestmark = pytest.mark.chaos

RUN_SECONDS = 60
REQUESTS_PER_SECOND = 10
CLIENT_TIMEOUT = 10
TRAIN_AT, KILL_WORKER_AT, RESTART_ALGORITHM_AT, ACTIVATE_AT = 8, 10, 30, 45
SPAM = "WINNER!! You have won a free prize, call 09061701461 now to claim"
# What each tick of the clock sends, in turn: mostly predictions and data.
MIX = ["predict", "create", "predict", "read", "list", "predict", "create", "predict", "batch"]


@dataclasses.dataclass
class Outcome:
    kind: str
    started: float
    ended: float
    status: int | None  # None: no answer (connection error or client timeout)
    row: dict | None = None


@pytest.fixture(scope="module")
def load_stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("chaos")
    with support.isolated_env("chaos", workdir) as env:
        env.update(
            API_TOKEN=uuid.uuid4().hex,
            DJANGO_SECRET_KEY=uuid.uuid4().hex * 2,
            JOB_LEASE_SECONDS=str(LEASE_SECONDS),
            WORKER_CONCURRENCY="2",
        )
        with running_stack(env, workdir) as stack:
            yield stack


class Load:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.session = threading.local()
        self.outcomes: list[Outcome] = []
        self.created: list[dict] = []
        self.lock = threading.Lock()
        self.origin = time.monotonic()

    def _http(self):
        if not hasattr(self.session, "value"):
            self.session.value = requests.Session()
            self.session.value.headers.update(self.stack.headers)
        return self.session.value

    def call(self, kind: str, method: str, path: str, body=None) -> Outcome:
        started = time.monotonic()
        status, payload = None, None
        try:
            response = self._http().request(
                method, f"{self.stack.web}{path}", json=body, timeout=CLIENT_TIMEOUT
            )
            status, payload = response.status_code, response.json()
        except requests.RequestException:
            pass
        outcome = Outcome(kind, started - self.origin, time.monotonic() - self.origin, status)
        outcome.row = payload if isinstance(payload, dict) else None
        with self.lock:
            self.outcomes.append(outcome)
        return outcome

    def one(self, kind: str, serial: int) -> None:
        if kind == "predict":
            self.call(kind, "post", "/api/predict/", {"text": f"{SPAM} {serial}"})
        elif kind == "batch":
            self.call(kind, "post", "/api/predict/", {"texts": [SPAM, "lunch at one?"]})
        elif kind == "create":
            row = {"text": f"load row {serial} {uuid.uuid4().hex}", "label": "ham"}
            outcome = self.call(kind, "post", "/api/data/", row)
            if outcome.status == 201:
                with self.lock:
                    self.created.append(outcome.row)
        elif kind == "read":
            with self.lock:
                row = self.created[-1] if self.created else None
            self.call(kind, "get", f"/api/data/{row['id']}/" if row else "/api/data/?page=1")
        else:
            self.call(kind, "get", "/api/data/?page=1&label=ham")


def test_a_minute_of_load_through_a_worker_kill_and_an_algorithm_restart(load_stack, sms_rows):
    stack = load_stack
    stack.replace_data(sms_rows * 4)
    first = stack.train()
    assert stack.wait_for_end(first)["state"] == "succeeded"
    load = Load(stack)
    events: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    job_ids: list[str] = []

    def faults() -> None:
        def at(second: float) -> None:
            time.sleep(max(0.0, load.origin + second - time.monotonic()))

        at(TRAIN_AT)
        response = load._http().post(f"{stack.web}/api/train/", timeout=CLIENT_TIMEOUT)
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["job_id"])
        at(KILL_WORKER_AT)
        start = time.monotonic() - load.origin
        stack.kill("algorithm_celery")
        stack.start("algorithm_celery")
        windows["worker"] = (start, time.monotonic() - load.origin)
        at(RESTART_ALGORITHM_AT)
        start = time.monotonic() - load.origin
        stack.stop("algorithm_grpc")
        stack.start("algorithm_grpc")
        windows["algorithm"] = (start, time.monotonic() - load.origin)
        at(ACTIVATE_AT)
        events["activate"] = time.monotonic() - load.origin
        outcome = load.call("activate", "post", f"/api/models/{model_id_for_job(first)}/activate/")
        assert outcome.status == 200, outcome

    fault_thread = concurrent.futures.ThreadPoolExecutor(1).submit(faults)
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        for serial, kind in zip(
            range(RUN_SECONDS * REQUESTS_PER_SECOND), itertools.cycle(MIX), strict=False
        ):
            time.sleep(max(0.0, load.origin + serial / REQUESTS_PER_SECOND - time.monotonic()))
            pool.submit(load.one, kind, serial)
    fault_thread.result(timeout=120)
    job = stack.wait_for_end(job_ids[0], timeout=120)

    # Every row answered 201 is still there, as it was sent.
    missing = [
        row
        for row in load.created
        if load._http().get(f"{stack.web}/api/data/{row['id']}/", timeout=10).json() != row
    ]
    explained, unexplained = classify(load.outcomes, windows)
    print_summary(load.outcomes, explained, unexplained, windows, job)
    assert missing == []
    assert unexplained == []
    assert all(o.ended - o.started < CLIENT_TIMEOUT + 1 for o in load.outcomes)
    assert job["state"] == "succeeded", job["error"]


def classify(outcomes: list[Outcome], windows) -> tuple[list[Outcome], list[Outcome]]:
    """Failed requests the faults explain (predictions and model calls answered 503 while
    the algorithm server restarted, with a second of margin for web to reconnect), and the
    rest. A worker kill touches no request: web never talks to the worker."""
    start, end = windows["algorithm"]
    explained, unexplained = [], []
    for outcome in outcomes:
        if outcome.status in (200, 201):
            continue
        in_window = outcome.started <= end + 1 and outcome.ended >= start
        needs_algorithm = outcome.kind in ("predict", "batch", "activate")
        if outcome.status == 503 and in_window and needs_algorithm:
            explained.append(outcome)
        else:
            unexplained.append(outcome)
    return explained, unexplained


def print_summary(outcomes, explained, unexplained, windows, job) -> None:
    by_kind = collections.defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
    explained_ids, unexplained_ids = set(map(id, explained)), set(map(id, unexplained))
    print(
        f"\n{'kind':<9}{'sent':>6}{'ok':>6}{'503 explained':>15}{'unexplained':>13}"
        f"{'p50 ms':>9}{'max ms':>9}"
    )
    for kind, group in sorted(by_kind.items()):
        latencies = [1000 * (o.ended - o.started) for o in group]
        print(
            f"{kind:<9}{len(group):>6}{sum(o.status in (200, 201) for o in group):>6}"
            f"{sum(id(o) in explained_ids for o in group):>15}"
            f"{sum(id(o) in unexplained_ids for o in group):>13}"
            f"{statistics.median(latencies):>9.0f}{max(latencies):>9.0f}"
        )
    for name, (start, end) in windows.items():
        print(f"{name} restart: {start:.1f} s to {end:.1f} s into the run")
    print(f"training job across the worker kill: {job['state']} after {job['attempts']} attempts")
    for outcome in unexplained:
        print(f"unexplained: {outcome}")
