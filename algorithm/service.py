"""What the algorithm service does, as plain functions.

The gRPC servicers and the Flask shim both call these and only translate: requests in,
dicts out, ServiceError subclasses to their status codes.
"""

import datetime
import logging
import socket
import threading
import time
from typing import Any

from algorithm import db, jobs, metric_records, ml, monitoring
from algorithm.errors import InvalidArgument, Unavailable, check_no_nul, parse_uuid
from algorithm.serving import model_server
from algorithm.store import parse_model_id
from common import limits
from common import settings as common_settings
from common.coalescing import PredictionCoalescer

logger = logging.getLogger(__name__)


def _check_text(text: Any, where: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidArgument(f"{where} must be a string.")
    if not text.strip():
        raise InvalidArgument(f"{where} must not be empty.")
    if len(text) > limits.MAX_TEXT_CHARS:
        raise InvalidArgument(
            f"{where} has {len(text)} characters; the limit is {limits.MAX_TEXT_CHARS}."
        )
    check_no_nul(text, where)
    return text


def predict(*, text: Any, model_id: str = "") -> dict[str, Any]:
    """Classify one text: {"label", "scores", "model_id"}.

    Texts that arrive at once share one scikit-learn call (see coalescing.py).
    """
    return _single_predictions.predict(text=_check_text(text), model_id=model_id)


def predict_batch(*, texts: Any, model_id: str = "") -> dict[str, Any]:
    """Classify many texts with one version: {"predictions": [{"label", "scores"}], "model_id"}."""
    if not isinstance(texts, list) or not texts:
        raise InvalidArgument("texts must be a non-empty list of strings.")
    if len(texts) > limits.MAX_BATCH_TEXTS:
        raise InvalidArgument(
            f"texts has {len(texts)} items; the limit is {limits.MAX_BATCH_TEXTS} per call."
        )
    texts = [_check_text(text, f"texts[{index}]") for index, text in enumerate(texts)]
    model = model_server.get(model_id)
    predictions = ml.predict(model.vectorizer, model.classifier, texts)
    _texts_predicted.add(len(texts))
    return {
        "predictions": [{"label": label, "scores": scores} for label, scores in predictions],
        "model_id": model.model_id,
    }


class _Count:
    """A count that threads add to without losing increments."""

    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def add(self, amount: int) -> None:
        with self._lock:
            self.value += amount


_texts_predicted = _Count()

_single_predictions = PredictionCoalescer(
    lambda texts, model_id: predict_batch(texts=texts, model_id=model_id),
    max_batch=64,
    max_in_flight=1,
    timeout=10.0,
    busy_error=lambda: Unavailable("Too busy to answer in time; try again shortly."),
    is_per_text_error=lambda error: isinstance(error, InvalidArgument),
)


def train(
    *,
    algorithm: str = "",
    parameters: dict[str, Any] | None = None,
    request_id: str = "",
    base_model_id: str = "",
) -> dict[str, Any]:
    """Queue a training job and return it; training happens in a worker, never here.

    With base_model_id it retrains: that version's algorithm and parameters, overridden by
    any given here, on the current data.
    """
    if not isinstance(algorithm, str):
        raise InvalidArgument("algorithm must be a string naming one of ListAlgorithms.")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidArgument("parameters must be an object of name: value.")
    if base_model_id:
        base = _store().read_manifest(parse_model_id(base_model_id))
        if not algorithm or algorithm == base["algorithm"]:
            parameters = {**base["parameters"], **(parameters or {})}
        algorithm = algorithm or base["algorithm"]
    algorithm = algorithm or ml.DEFAULT_ALGORITHM
    resolved = ml.resolve_parameters(algorithm, parameters or {})
    request_uuid = parse_uuid(request_id, "request_id") if request_id else None
    job, created = jobs.job_create(
        kind="train", algorithm=algorithm, parameters=resolved, request_id=request_uuid
    )
    if created:
        enqueue("train", job)
        logger.info("Queued training job %s (%s, %s)", job["id"], algorithm, resolved)
    return _public_job(job)


def enqueue(task: str, job: dict[str, Any]) -> None:
    # Imported here so the serving paths never pay for Celery's import.
    from algorithm import jobqueue

    name = {"train": jobqueue.TRAIN_TASK, "evaluate": jobqueue.EVALUATE_TASK}[task]
    try:
        jobqueue.enqueue(name, str(job["id"]))
    except Exception as error:
        jobs.job_fail(job["id"], error=f"Could not queue the job: {error}")
        logger.error("Could not queue job %s: %s", job["id"], error)
        raise Unavailable(
            "The job queue (Redis) is unavailable; nothing was queued. Try again shortly."
        ) from error


def get_job(*, job_id: str) -> dict[str, Any]:
    return _public_job(jobs.job_get(job_id))


def _public_job(row: dict[str, Any]) -> dict[str, Any]:
    """A job row as callers see it: ids as strings, times in ISO 8601."""
    job = {"job_id": str(row["id"])}
    job.update((key, value) for key, value in row.items() if key != "id")
    job["model_id"] = str(row["model_id"]) if row["model_id"] else None
    job["metric_id"] = str(row["metric_id"]) if row["metric_id"] else None
    for key in ("create_time", "start_time", "end_time"):
        job[key] = _iso(row[key])
    return job


def list_algorithms() -> list[dict[str, Any]]:
    return [
        {
            "name": algorithm.name,
            "description": algorithm.description,
            "is_default": algorithm.name == ml.DEFAULT_ALGORITHM,
            "parameters": [
                {
                    "name": parameter.name,
                    "type": parameter.type_name,
                    "description": parameter.description,
                    "default": parameter.default,
                    "minimum": parameter.minimum,
                    "maximum": parameter.maximum,
                }
                for parameter in algorithm.parameters
            ],
        }
        for algorithm in sorted(
            ml.ALGORITHMS.values(), key=lambda a: a.name != ml.DEFAULT_ALGORITHM
        )
    ]


def health() -> dict[str, Any]:
    """Serving state: which model answers, and why a newer one was refused, if it was."""
    active = model_server.active
    return {
        "status": "ok",
        "model_id": active.model_id if active else None,
        "model_refused": model_server.last_refusal,
    }


def _store():
    return model_server.store


def _public_model(manifest: dict[str, Any], active_id: str | None) -> dict[str, Any]:
    return {
        "model_id": manifest["model_id"],
        "algorithm": manifest["algorithm"],
        "parameters": manifest["parameters"],
        "labels": manifest["labels"],
        "row_count": manifest["row_count"],
        "data_snapshot": manifest.get("data_snapshot") or {},
        "metrics": manifest["metrics"],
        "create_time": manifest["created_time"],
        "training_seconds": manifest.get("training_seconds", 0.0),
        "library_versions": manifest["library_versions"],
        "active": manifest["model_id"] == active_id,
        "job_id": manifest.get("job_id"),
    }


def list_models(*, page_size: int = 0, page_token: str = "") -> dict[str, Any]:
    """One page of model versions, newest first: {"models", "next_page_token", "total_size"}."""
    if not isinstance(page_size, int) or not 0 <= page_size <= limits.MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 0 and {limits.MAX_PAGE_SIZE}.")
    try:
        offset = int(page_token or 0)
        if offset < 0:
            raise ValueError
    except ValueError:
        raise InvalidArgument(
            "page_token is not one this service gave out; start again without it."
        ) from None
    size = page_size or limits.DEFAULT_PAGE_SIZE
    store = _store()
    manifests = store.list_manifests()
    active_id = store.active_id()
    page = manifests[offset : offset + size]
    more = offset + size < len(manifests)
    return {
        "models": [_public_model(manifest, active_id) for manifest in page],
        "next_page_token": str(offset + size) if more else "",
        "total_size": len(manifests),
    }


def get_model(*, model_id: str) -> dict[str, Any]:
    store = _store()
    return _public_model(store.read_manifest(parse_model_id(model_id)), store.active_id())


def activate_model(*, model_id: str) -> dict[str, Any]:
    """Make a version the default for predictions; serving processes switch within a second."""
    store = _store()
    store.activate(model_id)
    return get_model(model_id=model_id)


def delete_model(*, model_id: str) -> dict[str, Any]:
    """Delete a version's files and its metric records; the active version is refused."""
    model_id = parse_model_id(model_id)
    _store().delete(model_id)
    metric_records.metric_records_delete_for_model(model_id)
    monitoring.schedule_delete(model_id=model_id, missing_ok=True)
    return {"model_id": model_id}


def evaluate_model(*, model_id: str, rows: Any = None) -> dict[str, Any]:
    """Queue an evaluation on the data table, or on the given [(text, label)] rows."""
    manifest = _store().read_manifest(parse_model_id(model_id))
    if rows is not None:
        rows = _check_rows(rows)
    job, record = metric_records.metric_record_create(
        model_id=manifest["model_id"], algorithm=manifest["algorithm"], rows=rows or None
    )
    enqueue("evaluate", job)
    logger.info("Queued evaluation job %s of model %s", job["id"], manifest["model_id"])
    return {"job": _public_job(job), "metric_record": _public_metric_record(record)}


def _check_rows(rows: Any) -> list[tuple[str, str]]:
    if not isinstance(rows, list):
        raise InvalidArgument("rows must be a list of {text, label} objects.")
    if len(rows) > limits.MAX_EVALUATION_ROWS:
        raise InvalidArgument(
            f"rows has {len(rows)} items; the limit is {limits.MAX_EVALUATION_ROWS} per evaluation."
        )
    checked = []
    for index, row in enumerate(rows):
        text, label = row if isinstance(row, tuple) else (row.get("text"), row.get("label"))
        checked.append((_check_text(text, f"rows[{index}].text"), _check_label(label, index)))
    return checked


def _check_label(label: Any, index: int) -> str:
    if not isinstance(label, str) or not label.strip():
        raise InvalidArgument(f"rows[{index}].label must be a non-empty string.")
    if len(label) > 100:
        raise InvalidArgument(f"rows[{index}].label has {len(label)} characters; the limit is 100.")
    check_no_nul(label, f"rows[{index}].label")
    return label


def _public_metric_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "metric_id": str(row["id"]),
        "model_id": str(row["model_id"]),
        "job_id": str(row["job_id"]),
        "state": row["state"],
        "source": row["source"],
        "row_count": row["row_count"],
        "metrics": row["metrics"],
        "error": row["error"],
        "create_time": _iso(row["create_time"]),
        "end_time": _iso(row["end_time"]),
    }


def _iso(value: datetime.datetime | None) -> str | None:
    return value.astimezone(datetime.UTC).isoformat() if value else None


def get_metric_record(*, metric_id: str) -> dict[str, Any]:
    return _public_metric_record(metric_records.metric_record_get(metric_id))


def list_metric_records(*, model_id: str) -> list[dict[str, Any]]:
    model_id = parse_model_id(model_id)
    records = metric_records.metric_record_list(model_id)
    if not records:
        _store().read_manifest(model_id)  # an unknown model is a NotFound, not an empty list
    return [_public_metric_record(record) for record in records]


def delete_metric_record(*, metric_id: str) -> dict[str, Any]:
    metric_records.metric_record_delete(metric_id)
    return {"metric_id": str(parse_uuid(metric_id, "metric_id"))}


def get_info() -> dict[str, Any]:
    """Build, uptime, the active model's record, and how many models and data rows exist."""
    store = _store()
    manifests = store.list_manifests()
    active_id = store.active_id()
    # The deployed model is the one answering: while a newly activated version is refused,
    # that is still the previous one.
    served = model_server.active
    deployed_id = served.model_id if served else active_id
    active = next((m for m in manifests if m["model_id"] == deployed_id), None)
    try:
        with db.transaction() as cursor:
            cursor.execute("SELECT count(*) AS rows FROM data")
            data_rows = cursor.fetchone()["rows"]
    except Unavailable:
        data_rows = None
    return {
        "version": common_settings.VERSION,
        "build_time": common_settings.BUILD_TIME,
        "git_revision": common_settings.GIT_REVISION,
        "uptime_seconds": round(time.time() - common_settings.STARTED_AT, 3),
        "active_model": _public_model(active, active_id) if active else None,
        "model_refused": model_server.last_refusal,
        "model_count": len(manifests),
        "data_rows": data_rows,
        "replica": socket.gethostname(),
        "texts_predicted": _texts_predicted.value,
    }
