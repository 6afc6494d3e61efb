"""Celery tasks: thin wrappers that take ids and call the plain functions."""

from algorithm.evaluation import run_evaluation_job
from algorithm.logs import correlated
from algorithm.training import run_training_job
from worker.app import app

TRAIN_TASK = "worker.tasks.train"
EVALUATE_TASK = "worker.tasks.evaluate"


@app.task(name=TRAIN_TASK)
def train(job_id: str) -> None:
    with correlated(job_id):
        run_training_job(job_id)


@app.task(name=EVALUATE_TASK)
def evaluate(job_id: str) -> None:
    with correlated(job_id):
        run_evaluation_job(job_id)
