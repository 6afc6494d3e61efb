"""A training job from start to end, as the worker runs it."""

import logging
import time
import uuid

from algorithm import jobs, ml
from algorithm.datasource import read_labelled_rows
from algorithm.store import ModelStore

logger = logging.getLogger(__name__)

# Share of the progress bar each stage starts at; loading fills the first half by rows read.
_STAGE_START = {"loading": 0.0, "training": 0.5, "evaluating": 0.85, "saving": 0.9}
_PROGRESS_EVERY_SECONDS = 0.5
_MODEL_ID_NAMESPACE = uuid.UUID("1b3c7c8e-3f0f-4f39-9d0e-6f1f2b7d8a10")


def model_id_for_job(job_id: uuid.UUID) -> str:
    """A job's model id is derived from the job id, so a redelivered job makes no second version."""
    return str(uuid.uuid5(_MODEL_ID_NAMESPACE, str(job_id)))


class _Progress:
    def __init__(self, job_id: uuid.UUID):
        self.job_id = job_id
        self.rows_read = 0
        self.rows_total = 0
        self._reported_at = 0.0

    def rows(self, rows_read: int, rows_total: int) -> None:
        self.rows_read, self.rows_total = rows_read, rows_total
        now = time.monotonic()
        if now - self._reported_at >= _PROGRESS_EVERY_SECONDS or rows_read == rows_total:
            self._reported_at = now
            share = rows_read / rows_total if rows_total else 1.0
            self._report("loading", _STAGE_START["training"] * share)

    def stage(self, stage: str) -> None:
        self._report(stage, _STAGE_START[stage])

    def _report(self, stage: str, progress: float) -> None:
        jobs.job_progress(
            self.job_id,
            stage=stage,
            progress=progress,
            rows_read=self.rows_read,
            rows_total=self.rows_total,
        )


def run_training_job(job_id: str, store: ModelStore | None = None) -> None:
    """Train on the data table, publish the model version and make it active."""
    store = store or ModelStore()
    job_uuid = uuid.UUID(job_id)
    job = jobs.job_start(job_uuid)
    if job is None:
        logger.info("Job %s is gone or already ended; nothing to do", job_id)
        return
    model_id = model_id_for_job(job_uuid)
    started = time.monotonic()
    progress = _Progress(job_uuid)
    try:
        if store.exists(model_id):
            # A redelivery of a job whose model was published before the worker died.
            manifest = store.read_manifest(model_id)
        else:
            progress.stage("loading")
            rows = read_labelled_rows(progress.rows)
            trained = ml.train(
                rows.texts, rows.labels, job["algorithm"], job["parameters"], progress.stage
            )
            progress.stage("saving")
            manifest = store.publish(
                model_id,
                trained.vectorizer,
                trained.classifier,
                {
                    "job_id": job_id,
                    "algorithm": job["algorithm"],
                    "parameters": job["parameters"],
                    "labels": trained.labels,
                    "row_count": len(rows.texts),
                    "data_snapshot": rows.snapshot,
                    "metrics": trained.metrics,
                    "training_seconds": round(time.monotonic() - started, 3),
                },
            )
        store.activate(model_id)
    except ml.TrainingDataError as error:
        jobs.job_fail(job_uuid, error=str(error))
        logger.info("Job %s cannot train: %s", job_id, error)
        return
    except Exception as error:
        jobs.job_fail(job_uuid, error=f"Training failed: {type(error).__name__}: {error}")
        logger.exception("Job %s failed", job_id)
        return
    jobs.job_succeed(job_uuid, model_id=model_id, metrics=manifest["metrics"])
    logger.info("Job %s made model %s: %s", job_id, model_id, manifest["metrics"]["accuracy"])
