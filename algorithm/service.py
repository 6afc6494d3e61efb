"""What the algorithm service does, as plain functions.

The gRPC servicers and the Flask shim both call these and only translate: requests in,
dicts out, ServiceError subclasses to their status codes.
"""

import datetime
import logging
import uuid
from typing import Any

from algorithm import jobs, ml, settings
from algorithm.errors import InvalidArgument, Unavailable
from algorithm.serving import model_server

logger = logging.getLogger(__name__)


def _check_text(text: Any, where: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidArgument(f"{where} must be a string.")
    if not text.strip():
        raise InvalidArgument(f"{where} must not be empty.")
    if len(text) > settings.MAX_TEXT_CHARS:
        raise InvalidArgument(
            f"{where} has {len(text)} characters; the limit is {settings.MAX_TEXT_CHARS}."
        )
    return text


def predict(*, text: Any, model_id: str = "") -> dict[str, Any]:
    """Classify one text: {"label", "scores", "model_id"}."""
    text = _check_text(text)
    model = model_server.get(model_id)
    ((label, scores),) = ml.predict(model.vectorizer, model.classifier, [text])
    return {"label": label, "scores": scores, "model_id": model.model_id}


def predict_batch(*, texts: Any, model_id: str = "") -> dict[str, Any]:
    """Classify many texts with one version: {"predictions": [{"label", "scores"}], "model_id"}."""
    if not isinstance(texts, list) or not texts:
        raise InvalidArgument("texts must be a non-empty list of strings.")
    if len(texts) > settings.MAX_BATCH_TEXTS:
        raise InvalidArgument(
            f"texts has {len(texts)} items; the limit is {settings.MAX_BATCH_TEXTS} per call."
        )
    texts = [_check_text(text, f"texts[{index}]") for index, text in enumerate(texts)]
    model = model_server.get(model_id)
    predictions = ml.predict(model.vectorizer, model.classifier, texts)
    return {
        "predictions": [{"label": label, "scores": scores} for label, scores in predictions],
        "model_id": model.model_id,
    }


def train(
    *, algorithm: str = "", parameters: dict[str, Any] | None = None, request_id: str = ""
) -> dict[str, Any]:
    """Queue a training job and return it; training happens in a worker, never here."""
    # Imported here so the serving paths never pay for Celery's import.
    from worker.tasks import TRAIN_TASK, app

    if not isinstance(algorithm, str):
        raise InvalidArgument("algorithm must be a string naming one of ListAlgorithms.")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidArgument("parameters must be an object of name: value.")
    algorithm = algorithm or ml.DEFAULT_ALGORITHM
    resolved = ml.resolve_parameters(algorithm, parameters or {})
    request_uuid = None
    if request_id:
        try:
            request_uuid = uuid.UUID(request_id)
        except (ValueError, TypeError, AttributeError):
            raise InvalidArgument(f"request_id must be a UUID, got {request_id!r}.") from None
    job, created = jobs.job_create(
        kind="train", algorithm=algorithm, parameters=resolved, request_id=request_uuid
    )
    if created:
        try:
            app.send_task(TRAIN_TASK, args=[str(job["id"])])
        except Exception as error:
            jobs.job_fail(job["id"], error=f"Could not queue the job: {error}")
            logger.error("Could not queue job %s: %s", job["id"], error)
            raise Unavailable(
                "The job queue (Redis) is unavailable; nothing was queued. Try again shortly."
            ) from error
    return _public_job(job)


def get_job(*, job_id: str) -> dict[str, Any]:
    return _public_job(jobs.job_get(job_id))


def _public_job(row: dict[str, Any]) -> dict[str, Any]:
    """A job row as callers see it: ids as strings, times in ISO 8601."""
    job = {"job_id": str(row["id"])}
    job.update((key, value) for key, value in row.items() if key != "id")
    job["model_id"] = str(row["model_id"]) if row["model_id"] else None
    for key in ("create_time", "start_time", "end_time"):
        job[key] = row[key].astimezone(datetime.UTC).isoformat() if row[key] else None
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
