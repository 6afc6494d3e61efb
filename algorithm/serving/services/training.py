"""TrainingService: queue training jobs, read jobs, list the algorithms."""

import logging

from algorithm.domain import jobs, ml
from algorithm.domain.errors import InvalidArgument, parse_uuid
from algorithm.domain.records import Job
from algorithm.domain.store import parse_model_id
from algorithm.serving.model_repository import model_repository
from algorithm.v1 import training_pb2
from common.proto_json import from_json

logger = logging.getLogger(__name__)


def train(
    *,
    algorithm: str = "",
    parameters: object = None,
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
        base = model_repository.store.read_manifest(parse_model_id(base_model_id))
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
        # Imported here so the serving paths never pay for Celery's import.
        from algorithm.jobqueue import enqueue_job

        enqueue_job(job)
        logger.info("Queued training job %s (%s, %s)", job["id"], algorithm, resolved)
    return job_message(job)


def get_job(*, job_id: str) -> training_pb2.Job:
    return job_message(jobs.job_get(job_id))


def job_message(row: Job) -> training_pb2.Job:
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
