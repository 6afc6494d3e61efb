"""Celery tasks: thin wrappers that take ids and call the plain functions."""

from typing import Any

from algorithm.domain import db
from algorithm.domain.evaluation import run_evaluation_job
from algorithm.domain.monitoring import compute_accuracy as compute_model_accuracy
from algorithm.domain.retention import purge_expired as purge_expired_rows
from algorithm.domain.training import run_training_job
from algorithm.jobqueue import (
    COMPUTE_ACCURACY_TASK,
    EVALUATE_TASK,
    PURGE_EXPIRED_TASK,
    TRAIN_TASK,
    app,
)
from common.logs import correlated
from worker.metrics import MONITORING_TICKS, job_recorded

# A job that cannot be taken because the database is away is tried again later; a job that
# loses the database once taken is sent again by worker.recovery.
_RETRY_WHILE_DATABASE_AWAY: dict[str, Any] = {
    "autoretry_for": db.LOST,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 10,
}


@app.task(name=TRAIN_TASK, **_RETRY_WHILE_DATABASE_AWAY)
def train(job_id: str) -> None:
    with correlated(job_id), job_recorded(job_id):
        run_training_job(job_id)


@app.task(name=EVALUATE_TASK, **_RETRY_WHILE_DATABASE_AWAY)
def evaluate(job_id: str) -> None:
    with correlated(job_id), job_recorded(job_id):
        run_evaluation_job(job_id)


@app.task(name=COMPUTE_ACCURACY_TASK)
def compute_accuracy(model_id: str) -> None:
    """Fired by the RedBeat scheduler on the model's cron schedule."""
    with correlated(f"monitor:{model_id}"):
        try:
            outcome = compute_model_accuracy(model_id=model_id)
        except Exception:
            MONITORING_TICKS.labels("failed").inc()
            raise
        MONITORING_TICKS.labels("error" if outcome["error"] else "scored").inc()


@app.task(name=PURGE_EXPIRED_TASK)
def purge_expired() -> None:
    """Fired daily by the scheduler (algorithm.jobqueue's beat_schedule)."""
    with correlated("retention"):
        purge_expired_rows()
