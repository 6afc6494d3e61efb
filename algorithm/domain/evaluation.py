"""An evaluation job from start to end, as the worker runs it: score a model version on
labelled rows and fill its metric record."""

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sklearn.metrics import confusion_matrix

from algorithm.domain import db, jobs, metric_records, ml
from algorithm.domain.datasource import read_labelled_rows
from algorithm.domain.records import Job, Metrics
from algorithm.domain.store import ModelStore

logger = logging.getLogger(__name__)

PREDICT_BATCH = 1_000


def evaluate(model: Any, vectorizer: Any, texts: Sequence[str], labels: Sequence[str]) -> Metrics:
    """Accuracy, macro F1, per-label scores and the confusion matrix of a model on rows."""
    predicted: list[str] = []
    for start in range(0, len(texts), PREDICT_BATCH):
        batch = texts[start : start + PREDICT_BATCH]
        predicted.extend(label for label, _ in ml.predict(vectorizer, model, batch))
    # Labels the model never learned still count: every row of them is a miss.
    known = sorted({str(label) for label in model.classes_} | set(labels))
    scores = ml.score(labels, predicted, known)
    matrix = confusion_matrix(labels, predicted, labels=known)
    return {
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "per_label": scores["per_label"],
        "confusion_matrix": {"labels": known, "rows": matrix.tolist()},
    }


def run_evaluation_job(job_id: str) -> None:
    job_uuid = uuid.UUID(job_id)
    job = jobs.job_start(job_uuid)
    if job is None:
        logger.info("Job %s is gone, ended or running elsewhere; nothing to do", job_id)
        return
    with jobs.heartbeat(job_uuid):
        _run(job)


def _run(job: Job) -> None:
    job_id, job_uuid = str(job["id"]), job["id"]
    store = ModelStore()
    try:
        record = metric_records.metric_record_get(job["metric_id"])
        model = store.load(str(job["model_id"]))

        def report(rows_read: int, rows_total: int) -> None:
            jobs.job_progress(
                job_uuid,
                stage="loading",
                progress=0.5 * rows_read / rows_total if rows_total else 0.5,
                rows_read=rows_read,
                rows_total=rows_total,
            )

        if record["source"] == "upload":
            texts, labels = metric_records.evaluation_rows(record["id"])
            report(len(texts), len(texts))
        else:
            rows = read_labelled_rows(report)
            texts, labels = rows.texts, rows.labels
        if not texts:
            raise ml.TrainingDataError("There are no labelled rows to evaluate on.")
        jobs.job_progress(
            job_uuid,
            stage="evaluating",
            progress=0.5,
            rows_read=len(texts),
            rows_total=len(texts),
        )
        metrics = evaluate(model.classifier, model.vectorizer, texts, labels)
        metric_records.metric_record_fill(record["id"], row_count=len(texts), metrics=metrics)
    except db.LOST:
        # Retried once the database is back, as training is (jobs.requeue_orphaned).
        logger.warning("Job %s lost the database; it will be retried", job_id, exc_info=True)
        return
    except Exception as error:
        message = str(getattr(error, "message", "") or error)
        jobs.job_fail(job_uuid, error=f"Evaluation failed: {message}")
        logger.warning("Evaluation job %s failed: %s", job_id, message)
        return
    jobs.job_succeed(job_uuid, model_id=str(job["model_id"]), metrics=metrics)
    logger.info("Job %s evaluated model %s: %s", job_id, job["model_id"], metrics["accuracy"])
