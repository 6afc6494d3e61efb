"""Celery tasks: thin wrappers that take ids and call the plain functions."""

from algorithm.training import run_training_job
from worker.app import app

TRAIN_TASK = "worker.tasks.train"


@app.task(name=TRAIN_TASK)
def train(job_id: str) -> None:
    run_training_job(job_id)
