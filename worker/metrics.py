"""The worker's and the scheduler's Prometheus metrics: jobs and monitoring ticks as the
workers run them, and, read from PostgreSQL and Redis when Prometheus asks, the queues'
depth and the last accuracy of each scheduled model."""

import contextlib
import json
import time
from collections.abc import Iterator

import redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from algorithm.domain import db, jobs
from algorithm.jobqueue import MONITORING_QUEUE, app
from common import settings as common_settings

JOBS = Counter(
    "textclf_jobs",
    "Jobs a worker finished, by kind (train, evaluate) and final state.",
    ["kind", "state"],
)
JOB_SECONDS = Histogram(
    "textclf_job_duration_seconds",
    "Time a worker spent on a job, by kind.",
    ["kind"],
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
JOB_ROWS_READ = Histogram(
    "textclf_job_rows_read",
    "Rows a job read from the data table (or from its uploaded rows).",
    ["kind"],
    buckets=(10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000),
)
MONITORING_TICKS = Counter(
    "textclf_monitoring_ticks",
    "Scheduled accuracy checks a worker ran, by outcome (scored, or error: nothing to score).",
    ["outcome"],
)
PROMOTIONS = Counter(
    "textclf_promotions_total",
    "Promotion decisions recorded, by outcome: promoted, kept, rolled_back, shadowing.",
    ["outcome"],
)
SCHEDULER_TICKS_SENT = Counter(
    "textclf_scheduler_ticks_sent",
    "Scheduled tasks the scheduler sent to the queue, by task.",
    ["task"],
)
# The queues the workers consume: Celery's default one (training, evaluations) and monitoring.
QUEUES = (app.conf.task_default_queue, MONITORING_QUEUE)
TIMEOUT_SECONDS = 2


@contextlib.contextmanager
def job_recorded(job_id: str) -> Iterator[None]:
    """Around a job's run: its kind, final state, time and rows read, once it ends."""
    started = time.perf_counter()
    try:
        yield
    finally:
        with contextlib.suppress(*db.LOST):
            job = jobs.job_get(job_id)
            if job["state"] in ("succeeded", "failed"):
                JOBS.labels(job["kind"], job["state"]).inc()
                JOB_SECONDS.labels(job["kind"]).observe(time.perf_counter() - started)
                JOB_ROWS_READ.labels(job["kind"]).observe(job["rows_read"])


class QueueAndAccuracyCollector(Collector):
    """Read at each scrape: tasks waiting per queue, and the accuracy last computed for
    each model that has a schedule now (so a deleted schedule's model leaves the metric)."""

    def collect(self) -> Iterator[Metric]:
        client = redis.Redis.from_url(
            common_settings.REDIS_URL,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            decode_responses=True,
        )
        prefix = common_settings.REDIS_KEY_PREFIX
        depth = GaugeMetricFamily(
            "textclf_queue_tasks", "Tasks waiting in each queue.", labels=["queue"]
        )
        accuracy = GaugeMetricFamily(
            "textclf_model_accuracy",
            "The accuracy last computed for each scheduled model, from its newest results.",
            labels=["model_id"],
        )
        with contextlib.suppress(redis.RedisError, *db.LOST):
            for queue in QUEUES:
                depth.add_metric([queue], client.llen(f"{prefix}{queue}"))
            scheduled = _scheduled_models()
            stored = client.mget([f"{prefix}accuracy:{model_id}" for model_id in scheduled])
            for model_id, outcome in zip(scheduled, stored, strict=True):
                value = json.loads(outcome).get("accuracy") if outcome else None
                if value is not None:
                    accuracy.add_metric([model_id], value)
        yield depth
        yield accuracy


def _scheduled_models() -> list[str]:
    with db.transaction() as cursor:
        cursor.execute("SELECT model_id::text AS model_id FROM metrics_executions")
        return [row["model_id"] for row in cursor.fetchall()]
