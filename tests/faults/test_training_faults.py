"""Training under faults: a worker killed mid-job, a job delivered twice, two jobs at once,
Redis and PostgreSQL restarted mid-job. Every job ends `succeeded` (or `failed` with a
message), never stuck `running`, and makes exactly one model version, never a partial one.

Celery on Redis delivers at least once; the jobs table decides who runs a job (see
algorithm/domain/jobs.py), so a repeated delivery does nothing and a dead worker's job is taken
again after its lease (tests/faults/conftest.py shortens it to a few seconds).
"""

import threading
import time

import celery
import grpc
import pytest

from algorithm.domain.store import MANIFEST_FILE, MODEL_FILE, VECTORIZER_FILE, ModelStore
from algorithm.domain.training import model_id_for_job
from algorithm.jobqueue import TRAIN_TASK
from algorithm.v1 import prediction_pb2
from tests import support
from tests.faults.conftest import LEASE_SECONDS, seconds_since

pytestmark = pytest.mark.slow

SPAM = "WINNER!! You have won a free prize, call 09061701461 now to claim"
HAM = "Are we still meeting for lunch tomorrow?"


class VersionWatcher:
    """Looks at MODEL_DIR every few milliseconds while a test runs: every folder a reader
    would take for a version must hold all of its files."""

    def __init__(self, stack):
        self.stack = stack
        self.partial: list[str] = []
        self.looks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            for name in self.stack.versions():
                folder = self.stack.models / name
                if not all(
                    (folder / file).is_file()
                    for file in (MODEL_FILE, VECTORIZER_FILE, MANIFEST_FILE)
                ):
                    self.partial.append(name)
            self.looks += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()


def send_again(stack, job_id: str) -> None:
    """Deliver a job's task once more, as the broker does after a visibility timeout."""
    app = celery.Celery(
        broker=stack.env["REDIS_URL"],
        broker_transport_options={"global_keyprefix": stack.env["REDIS_KEY_PREFIX"]},
    )
    try:
        app.send_task(TRAIN_TASK, args=[job_id])
    finally:
        app.close()


def worker_saw_duplicates(stack, job_id: str) -> int:
    return (
        stack.processes["algorithm_celery"]
        .output()
        .count(f"Job {job_id} is gone, ended or running elsewhere; nothing to do")
    )


def assert_one_sound_version(stack, job: dict, before: set[str]) -> str:
    model_id = model_id_for_job(job["id"])
    assert str(job["model_id"]) == model_id
    assert stack.versions() - before == {model_id}
    assert model_id in stack.listed_versions()
    assert all(name in stack.versions() for name in stack.listed_versions())
    ModelStore(stack.models).load(model_id)
    return model_id


def test_a_worker_killed_mid_training_is_replaced_and_the_job_succeeds(stack, sms_rows):
    stack.replace_data(sms_rows * 8)
    before = stack.versions()
    with VersionWatcher(stack) as watcher:
        job_id = stack.train()
        stack.wait_for_stage(job_id, ("training",))
        killed = time.monotonic()
        stack.kill("algorithm_celery")
        assert stack.job(job_id)["state"] == "running"
        stack.start("algorithm_celery")
        worker_back = seconds_since(killed)
        job = stack.wait_for_end(job_id)
        recovered = seconds_since(killed)
    print(
        f"\nworker SIGKILLed mid-training: worker ready again after {worker_back} s, "
        f"job {job['state']} {recovered} s after the kill (lease {stack.env['JOB_LEASE_SECONDS']}"
        f" s), {watcher.looks} looks at MODEL_DIR"
    )
    assert job["state"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    assert watcher.partial == []
    assert_one_sound_version(stack, job, before)


def test_a_worker_stopped_mid_training_hands_the_job_back_and_it_succeeds(stack, sms_rows):
    # SIGTERM to the worker's process group, as honcho sends it when a container stops.
    stack.replace_data(sms_rows * 8)
    before = stack.versions()
    job_id = stack.train()
    stack.wait_for_stage(job_id, ("training",))
    worker = stack.processes["algorithm_celery"]
    stack.stop("algorithm_celery")
    assert f"Stopping mid-job: handed job {job_id} back" in worker.output()
    # Free for another worker at once, where a killed worker's job waits its lease out.
    with stack.cursor() as cursor:
        cursor.execute(
            "SELECT state, update_time < now() - make_interval(secs => %s) AS free"
            " FROM jobs WHERE id = %s",
            (LEASE_SECONDS, job_id),
        )
        held = cursor.fetchone()
    # Its lease is over; or the sweep, seeing that, has queued it already.
    assert held["state"] == "queued" or held == {"state": "running", "free": True}, held
    stack.start("algorithm_celery")
    job = stack.wait_for_end(job_id)
    assert job["state"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    assert_one_sound_version(stack, job, before)


def test_a_job_delivered_again_makes_no_second_version(stack, sms_rows):
    stack.replace_data(sms_rows * 4)
    before = stack.versions()
    job_id = stack.train()
    # Twice while it runs (a second worker slot is free to take them), once after it ended.
    stack.wait_for_stage(job_id, ("loading", "training"))
    send_again(stack, job_id)
    send_again(stack, job_id)
    job = stack.wait_for_end(job_id)
    send_again(stack, job_id)
    support.wait_until(
        lambda: worker_saw_duplicates(stack, job_id) == 3, 30, "the three duplicates being seen"
    )
    job = stack.job(job_id)
    assert (job["state"], job["attempts"]) == ("succeeded", 1), job["error"]
    assert_one_sound_version(stack, job, before)


def test_two_trainings_at_once_make_two_sound_versions(stack, sms_rows):
    stack.replace_data(sms_rows)
    before = stack.versions()
    job_ids = [stack.train(), stack.train("logistic_regression")]
    jobs = [stack.wait_for_end(job_id) for job_id in job_ids]
    assert [job["state"] for job in jobs] == ["succeeded", "succeeded"], jobs
    model_ids = {str(job["model_id"]) for job in jobs}
    assert len(model_ids) == 2
    assert stack.versions() - before == model_ids
    for model_id in model_ids:
        for text, label in ((SPAM, "spam"), (HAM, "ham")):
            reply = stack.prediction.Predict(
                prediction_pb2.PredictRequest(text=text, model_id=model_id), timeout=10
            )
            assert (reply.label, reply.model_id) == (label, model_id)


def test_redis_restarted_mid_job_the_job_ends_and_the_next_one_runs(stack, sms_rows):
    stack.replace_data(sms_rows * 4)
    job_id = stack.train()
    stack.wait_for_stage(job_id, ("loading", "training"))
    stack.servers.stop_redis()
    stack.servers.start_redis()
    restarted = time.monotonic()
    job = stack.wait_for_end(job_id)
    assert job["state"] == "succeeded", job["error"]

    # The worker and the gRPC server reconnect by themselves.
    def queued():
        try:
            return stack.train()
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            return None

    next_id = support.wait_until(queued, 30, "training being accepted again", interval=0.2)
    accepted = seconds_since(restarted)
    following = stack.wait_for_end(next_id)
    print(
        f"\nRedis restarted mid-job: the job {job['state']}; training accepted again "
        f"{accepted} s and the next job {following['state']} {seconds_since(restarted)} s "
        "after the restart"
    )
    assert following["state"] == "succeeded", following["error"]


def test_postgres_restarted_mid_read_the_job_is_taken_again_and_succeeds(stack, sms_rows):
    # Enough rows for several seconds of reading even on a fast machine, so the restart
    # lands mid-read.
    stack.replace_data(sms_rows * 24)
    before = stack.versions()
    # The streaming algorithm reads the table in batches for as long as it trains.
    job_id = stack.train("sgd_hashing")
    at = stack.wait_for_stage(job_id, ("training",), mid_read=True)
    stack.servers.stop_postgres()
    stack.servers.start_postgres()
    restarted = time.monotonic()
    job = stack.wait_for_end(job_id)
    print(
        f"\nPostgreSQL restarted while the job read row {at['rows_read']} of "
        f"{at['rows_total']}: job {job['state']} after {job['attempts']} attempts, "
        f"{seconds_since(restarted)} s after the restart"
    )
    assert job["state"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    assert_one_sound_version(stack, job, before)
