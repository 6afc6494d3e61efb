"""TrainingService: queue training jobs, read and list jobs, list the algorithms."""

import logging

from algorithm.domain import jobs, ml
from algorithm.domain import promotion as promotion_rules
from algorithm.domain.errors import InvalidArgument, parse_uuid
from algorithm.domain.records import Job
from algorithm.domain.store import parse_model_id
from algorithm.serving.model_repository import model_repository
from algorithm.serving.services.paging import next_page_token, page_bounds
from algorithm.v1 import training_pb2
from common.proto_json import from_json

logger = logging.getLogger(__name__)


def train(
    *,
    algorithm: str = "",
    parameters: object = None,
    request_id: str = "",
    base_model_id: str = "",
    promotion: bool = False,
) -> training_pb2.Job:
    """Queue a training job and return it; training happens in a worker, never here.

    With base_model_id it retrains: that version's algorithm and parameters, overridden by
    any given here, on the current data. With promotion, the version is a challenger,
    promoted or kept by the promotion policy's rule (algorithm/domain/promotion.py).
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
    if promotion:
        return enqueued(
            promotion_rules.challenger_create(
                algorithm=algorithm, parameters=resolved, request_id=request_uuid
            )
        )
    job, created = jobs.job_create(
        kind="train", algorithm=algorithm, parameters=resolved, request_id=request_uuid
    )
    if created:
        # Imported here so the serving paths never pay for Celery's import.
        from algorithm.jobqueue import enqueue_job

        enqueue_job(job)
        logger.info("Queued training job %s (%s, %s)", job["id"], algorithm, resolved)
    return job_message(job)


def enqueued(job: Job) -> training_pb2.Job:
    """Send a new job to the workers; its message."""
    # Imported here so the serving paths never pay for Celery's import.
    from algorithm.jobqueue import enqueue_job

    enqueue_job(job)
    logger.info("Queued %s job %s (%s)", job["kind"], job["id"], job["algorithm"])
    return job_message(job)


def get_job(*, job_id: str) -> training_pb2.Job:
    return job_message(jobs.job_get(job_id))


def list_jobs(*, page_size: int = 0, page_token: str = "") -> training_pb2.ListJobsResponse:
    """One page of jobs, newest first."""
    offset, size = page_bounds(page_size, page_token)
    found, total = jobs.job_list(limit=size, offset=offset)
    return training_pb2.ListJobsResponse(
        jobs=[job_message(job) for job in found],
        next_page_token=next_page_token(offset, size, total),
        total_size=total,
    )


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
