"""Celery tasks: thin wrappers that take ids and call the plain functions."""

from typing import Any

from algorithm.cron import cron_ticked_since
from algorithm.domain import db, promotion
from algorithm.domain.canary_rollback import check_canary
from algorithm.domain.errors import FailedPrecondition
from algorithm.domain.evaluation import run_evaluation_job
from algorithm.domain.monitoring import compute_accuracy as compute_model_accuracy
from algorithm.domain.retention import purge_expired as purge_expired_rows
from algorithm.domain.shadow_promotion import check_shadowing
from algorithm.domain.store import ModelStore
from algorithm.domain.training import run_training_job
from algorithm.jobqueue import (
    CHECK_TRAFFIC_TASK,
    COMPUTE_ACCURACY_TASK,
    EVALUATE_TASK,
    PROMOTION_CHECK_TASK,
    PURGE_EXPIRED_TASK,
    TRAIN_TASK,
    app,
    enqueue_job,
)
from common.logs import correlated
from worker.metrics import MONITORING_TICKS, PROMOTIONS, job_recorded

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
        decision = run_training_job(job_id)
    if decision is not None:
        PROMOTIONS.labels(decision["outcome"]).inc()


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


@app.task(name=PROMOTION_CHECK_TASK)
def promotion_check() -> None:
    """Fired by the scheduler every PROMOTION_CHECK_SECONDS: queues a challenger when the
    promotion policy's trigger is due (algorithm.domain.promotion), then judges a challenger
    that awaits its shadow agreement (algorithm.domain.shadow_promotion)."""
    with correlated("promotion"):
        try:
            job = promotion.challenger_due(cron_ticked_since)
        except FailedPrecondition:
            job = None  # no evaluation set: no challenger can be judged
        if job is not None:
            enqueue_job(job)
        decision = check_shadowing(ModelStore())
        if decision is not None:
            PROMOTIONS.labels(decision["outcome"]).inc()


@app.task(name=CHECK_TRAFFIC_TASK)
def check_traffic() -> None:
    """Fired by the scheduler every TRAFFIC_CHECK_SECONDS: rolls back a canary that breaks
    its bounds, and records why."""
    with correlated("traffic"):
        decision = check_canary(ModelStore())
        if decision is not None:
            PROMOTIONS.labels(decision["outcome"]).inc()
