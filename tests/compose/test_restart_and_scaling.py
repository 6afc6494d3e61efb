"""The stack restarted, scaled up and down and damaged under load: no request fails, no row,
model or training job is lost."""

import subprocess
import threading
import time
from collections import Counter
from datetime import datetime

import pytest
import requests

from tests import support
from tests.compose.conftest import HEALTHY_SECONDS, report, step

pytestmark = pytest.mark.compose

# From the scale command, a new replica serves within this: it starts listening in a few
# seconds; the server closes connections after 20 s, ± 10 %, and web then resolves the name
# again (docs/operations.md, "Scaling").
NEW_REPLICA_SERVES_SECONDS = 45
JOB_SECONDS = 180


class Load:
    """Steady single predictions from a few threads, each on a keep-alive connection of its
    own, counting every answer that is not a 200."""

    def __init__(self, stack, threads: int = 4):
        self.stack = stack
        self.answers: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self):
        session = requests.Session()
        session.headers.update(self.stack.session.headers)
        url = f"{self.stack.url}/api/predict/"
        while not self._stop.is_set():
            try:
                response = session.post(url, json={"text": "win a free prize now"}, timeout=10)
                answer = str(response.status_code)
                if response.status_code != 200:
                    answer += f" {response.text[:200]}"
            except requests.RequestException as error:
                answer = type(error).__name__
            with self._lock:
                self.answers[answer] += 1

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()

    @property
    def failures(self) -> dict[str, int]:
        return {answer: n for answer, n in self.answers.items() if answer != "200"}

    @property
    def total(self) -> int:
        return sum(self.answers.values())


def _wait_for_job(stack, job_id: str) -> dict:
    return support.wait_until(
        lambda: (
            (job := stack.api("GET", f"/jobs/{job_id}/").json())["state"] in ("succeeded", "failed")
            and job
        ),
        JOB_SECONDS,
        f"job {job_id} ending",
        interval=1,
    )


def test_down_and_up_keep_the_rows_and_the_active_model(stack):
    before = stack.api("GET", "/info/").json()["algorithm"]
    assert before["data_rows"] > 5000 and before["active_model"]
    with step("down, then up -d to every service healthy"):
        stack.compose("down", timeout=180)
        stack.compose("up", "-d", timeout=600)
        stack.wait_healthy(HEALTHY_SECONDS)
    after = stack.api("GET", "/info/").json()["algorithm"]
    assert after["data_rows"] == before["data_rows"]
    assert after["active_model"]["model_id"] == before["active_model"]["model_id"]
    prediction = stack.api("POST", "/predict/", json={"text": "WINNER! Claim your prize"})
    assert prediction.json()["model_id"] == before["active_model"]["model_id"]


def test_replicas_started_together_all_serve_and_workers_share_training(stack):
    with step("down, then up -d with 2 algorithm replicas and 2 workers, all healthy"):
        stack.compose("down", timeout=180)
        stack.compose(
            "up", "-d", "--scale", "algorithm=2", "--scale", "algorithm_celery=2", timeout=600
        )
        stack.wait_healthy(HEALTHY_SECONDS)
    for _ in range(40):
        assert stack.api("POST", "/predict/", json={"text": "see you at lunch"}).ok
    counts = stack.replicas()
    print(f"\n[compose] predictions per replica, 2 started together: {counts}", flush=True)
    assert len(counts) == 2 and all(counts.values()), counts

    with step("two trainings at once"):
        jobs = [stack.api("POST", "/train/", json={}).json()["job_id"] for _ in range(2)]
        for job_id in jobs:
            assert _wait_for_job(stack, job_id)["state"] == "succeeded"
    ran_in = {
        container: [job_id for job_id in jobs if job_id in logs]
        for container in stack.containers("algorithm_celery")
        for logs in [
            subprocess.run(["docker", "logs", container], capture_output=True, text=True).stdout
        ]
    }
    assert sorted(len(found) for found in ran_in.values()) == [1, 1], ran_in


def test_replicas_added_while_web_runs_take_load_with_no_failed_request(stack):
    stack.compose("up", "-d", "--no-deps", "--scale", "algorithm=1", "algorithm", timeout=180)
    # A web whose channels have only ever seen the one replica: no broken connection makes
    # them resolve the name again (gRPC does then, every 30 s), only the server's connection
    # age does.
    with step("restart web with one algorithm replica"):
        stack.compose("restart", "web", timeout=120)
        stack.wait_healthy(HEALTHY_SECONDS, services=("web",))
    with Load(stack) as load:
        time.sleep(3)
        before = stack.replicas()
        started = time.monotonic()
        with step("scale algorithm from 1 to 3 replicas (up returns)"):
            stack.compose(
                "up",
                "-d",
                "--no-deps",
                "--no-recreate",
                "--scale",
                "algorithm=3",
                "algorithm",
                timeout=300,
            )
        seen = [before]

        def every_replica_serving():
            seen.append(stack.replicas())
            return len(seen[-1]) == 3 and all(seen[-1].values()) and seen[-1]

        try:
            after = support.wait_until(
                every_replica_serving, NEW_REPLICA_SERVES_SECONDS, "every replica serving", 1
            )
        finally:
            print(f"\n[compose] predictions per replica, last seen: {seen[-1]}", flush=True)
        report("scale command to every replica serving", time.monotonic() - started)
        with step("the new replicas healthy"):
            stack.wait_healthy(HEALTHY_SECONDS, services=("algorithm",))
    print(f"\n[compose] predictions per replica before: {before}, after: {after}", flush=True)
    print(f"[compose] answers under load while scaling: {dict(load.answers)}", flush=True)
    assert len(before) == 1
    assert load.total > 100
    assert not load.failures


def test_losing_or_stopping_a_replica_under_load_fails_no_prediction(stack):
    replicas = stack.containers("algorithm")
    assert len(replicas) == 3
    with Load(stack) as load:
        time.sleep(3)
        with step("kill one replica (SIGKILL) and stop another, under load"):
            subprocess.run(["docker", "kill", replicas[0]], check=True, capture_output=True)
            time.sleep(5)
            subprocess.run(["docker", "stop", replicas[1]], check=True, capture_output=True)
            time.sleep(5)
    print(f"\n[compose] answers under load while losing replicas: {dict(load.answers)}", flush=True)
    assert load.total > 100
    assert not load.failures


# Copies of the SMS data set in the table before the scale-down: a training then lasts long
# enough (about 15 s here) for the worker's stop to land while it runs, most of the time.
SCALE_DOWN_DATA_COPIES = 24
SCALE_DOWN_JOBS = 4
STEADY_SECONDS = 10


def _number(stack, container: str) -> int:
    return int(stack.inspect(container)["Config"]["Labels"]["com.docker.compose.container-number"])


def _steady_rate(stack, what: str) -> float:
    with Load(stack) as load:
        started = time.monotonic()
        time.sleep(STEADY_SECONDS)
    rate = load.total / (time.monotonic() - started)
    print(f"\n[compose] predictions/s through web, {what}: {rate:.0f} {dict(load.answers)}")
    assert not load.failures
    return rate


def test_scaling_replicas_and_workers_down_under_load_fails_no_request_and_loses_no_job(stack):
    # Whatever the tests before left (one replica killed, one stopped), or a stack of one
    # each when run alone.
    with step("3 algorithm replicas and 2 workers, all healthy and serving"):
        stack.compose(
            "up",
            "-d",
            "--no-deps",
            "--no-recreate",
            "--scale",
            "algorithm=3",
            "--scale",
            "algorithm_celery=2",
            "algorithm",
            "algorithm_celery",
            timeout=300,
        )
        stack.wait_healthy(HEALTHY_SECONDS, services=("algorithm", "algorithm_celery"))
        support.wait_until(
            lambda: len(stack.replicas()) == 3, NEW_REPLICA_SERVES_SECONDS, "3 replicas serving", 1
        )
    workers = sorted(stack.containers("algorithm_celery"), key=lambda c: _number(stack, c))
    assert len(workers) == 2
    # Compose removes the highest-numbered containers when it scales down.
    kept, leaving = workers
    with step(f"import the SMS data set {SCALE_DOWN_DATA_COPIES} more times"):
        data = (support.REPO_ROOT / "tests/data/sms_spam.tsv").read_bytes()
        for _ in range(SCALE_DOWN_DATA_COPIES):
            imported = stack.session.post(
                f"{stack.url}/api/data/import/",
                data=data,
                headers={"Content-Type": "text/tab-separated-values"},
                timeout=120,
            )
            assert imported.status_code == 201, imported.text[:500]
    rates = {"3 replicas": _steady_rate(stack, "3 replicas, steady")}

    # The leaving worker's output, followed until it stops: it is gone with the container.
    follower = subprocess.Popen(
        ["docker", "logs", "--follow", leaving],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    jobs = [stack.api("POST", "/train/", json={}).json()["job_id"] for _ in range(SCALE_DOWN_JOBS)]

    def running_in_both():
        running = [
            job_id
            for job_id in jobs
            if stack.api("GET", f"/jobs/{job_id}/").json()["state"] == "running"
        ]
        return len(running) == 2 and running

    with step("two of the trainings running, one in each worker"):
        support.wait_until(running_in_both, JOB_SECONDS, "a training running in each worker", 0.5)
    before = stack.replicas()
    with Load(stack) as load:
        time.sleep(3)
        started = time.monotonic()
        with step("scale algorithm from 3 to 1 and algorithm_celery from 2 to 1 (up returns)"):
            stack.compose(
                "up",
                "-d",
                "--no-deps",
                "--no-recreate",
                "--scale",
                "algorithm=1",
                "--scale",
                "algorithm_celery=1",
                "algorithm",
                "algorithm_celery",
                timeout=300,
            )
        scaled = time.monotonic() - started
        time.sleep(5)
        elapsed = time.monotonic() - started
    rates["while scaling down"] = load.total / elapsed
    after = stack.replicas()
    assert stack.containers("algorithm_celery") == [kept]
    rates["1 replica"] = _steady_rate(stack, "1 replica, steady")

    with step("every training ended"):
        ended = {job_id: _wait_for_job(stack, job_id) for job_id in jobs}
    since_scale = time.monotonic() - started
    logs = {
        leaving: follower.communicate(timeout=60)[0],
        kept: subprocess.run(
            ["docker", "logs", kept], capture_output=True, text=True, timeout=60
        ).stdout,
    }
    print(f"\n[compose] predictions per replica before: {before}, after: {after}", flush=True)
    print(f"[compose] answers under load while scaling down: {dict(load.answers)}", flush=True)
    print(
        "[compose] predictions/s through web: "
        + ", ".join(f"{what} {rate:.0f}" for what, rate in rates.items())
    )
    handed_back = [job_id for job_id in jobs if f"handed job {job_id} back" in logs[leaving]]
    finished = {}
    for job_id, job in ended.items():
        finished[job_id] = finished_in = [
            name
            for name, container in (("kept", kept), ("leaving", leaving))
            if f"Job {job_id} made model" in logs[container]
        ]
        seconds = (
            datetime.fromisoformat(job["end_time"]) - datetime.fromisoformat(job["start_time"])
        ).total_seconds()
        print(
            f"[compose] job {job_id}: {job['state']}, {job['rows_total']} rows, {seconds:.1f} s "
            f"from its first start to its end ({job['rows_total'] / seconds:.0f} rows/s), "
            f"finished by the {finished_in} worker"
            + (", handed back by the leaving worker" if job_id in handed_back else ""),
            flush=True,
        )
    print(f"[compose] scale command {scaled:.1f} s; every job ended {since_scale:.1f} s after it")
    assert len(before) == 3 and len(after) == 1, (before, after)
    assert load.total > 100
    assert not load.failures
    assert {job["state"] for job in ended.values()} == {"succeeded"}, ended
    # Each job made one model; the leaving worker either finished its job before it stopped or
    # handed it back, and the kept worker finished what it handed back.
    assert all(len(names) == 1 for names in finished.values()), finished
    assert len(handed_back) <= 1, handed_back
    assert all(finished[job_id] == ["kept"] for job_id in handed_back), finished
