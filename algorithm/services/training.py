"""TrainingService: queue training jobs, read jobs, list the algorithms."""

import logging
from typing import Any

from algorithm import jobs, ml
from algorithm.errors import InvalidArgument, Unavailable, parse_uuid
from algorithm.model_cache import model_server
from algorithm.store import parse_model_id
from algorithm.v1 import training_pb2
from common.messages import from_json

logger = logging.getLogger(__name__)


def train(
    *,
    algorithm: str = "",
    parameters: dict[str, Any] | None = None,
    request_id: str = "",
    base_model_id: str = "",
) -> training_pb2.Job:
    """Queue a training job and return it; training happens in a worker, never here.

    With base_model_id it retrains: that version's algorithm and parameters, overridden by
    any given here, on the current data.
    """
    if not isinstance(algorithm, str):
        raise InvalidArgument("algorithm must be a string naming one of ListAlgorithms.")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidArgument("parameters must be an object of name: value.")
    if base_model_id:
        base = model_server.store.read_manifest(parse_model_id(base_model_id))
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
    return job_message(job)


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


def get_job(*, job_id: str) -> training_pb2.Job:
    return job_message(jobs.job_get(job_id))


def job_message(row: dict[str, Any]) -> training_pb2.Job:
    return from_json(training_pb2.Job, {**row, "job_id": row["id"]})


def list_algorithms() -> training_pb2.ListAlgorithmsResponse:
    algorithms = sorted(ml.ALGORITHMS.values(), key=lambda a: a.name != ml.DEFAULT_ALGORITHM)
    return from_json(
        training_pb2.ListAlgorithmsResponse,
        {
            "algorithms": [
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
                for algorithm in algorithms
            ]
        },
    )
