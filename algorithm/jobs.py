"""Job records in the ``jobs`` table: what the API reports and what the worker updates."""

import uuid
from typing import Any

from psycopg2.extras import Json

from algorithm import db
from algorithm.errors import NotFound, parse_uuid

TERMINAL_STATES = ("succeeded", "failed")
_COLUMNS = (
    "id, kind, state, stage, progress, rows_read, rows_total, algorithm, parameters, "
    "model_id, metric_id, metrics, error, create_time, start_time, end_time"
)


def job_create(
    *,
    kind: str,
    algorithm: str,
    parameters: dict[str, Any],
    request_id: uuid.UUID | None = None,
    model_id: str | None = None,
    metric_id: uuid.UUID | None = None,
    cursor=None,
) -> tuple[dict[str, Any], bool]:
    """Insert a queued job; with a known request_id return that job instead. (job, created).

    With a cursor, the insert joins the caller's transaction.
    """
    if cursor is None:
        with db.transaction() as own_cursor:
            return job_create(
                kind=kind,
                algorithm=algorithm,
                parameters=parameters,
                request_id=request_id,
                model_id=model_id,
                metric_id=metric_id,
                cursor=own_cursor,
            )
    cursor.execute(
        f"""
        INSERT INTO jobs (id, kind, algorithm, parameters, request_id, model_id, metric_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (request_id) DO NOTHING
        RETURNING {_COLUMNS}
        """,
        (
            uuid.uuid4(),
            kind,
            algorithm,
            Json(parameters),
            request_id,
            uuid.UUID(model_id) if model_id else None,
            metric_id,
        ),
    )
    row = cursor.fetchone()
    if row is not None:
        return dict(row), True
    cursor.execute(f"SELECT {_COLUMNS} FROM jobs WHERE request_id = %s", (request_id,))
    return dict(cursor.fetchone()), False


def job_get(job_id: str | uuid.UUID) -> dict[str, Any]:
    job_id = parse_uuid(job_id, "job_id")
    with db.transaction() as cursor:
        cursor.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = %s", (job_id,))
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Job {job_id} does not exist.")
    return dict(row)


def job_start(job_id: uuid.UUID) -> dict[str, Any] | None:
    """Mark a job running; None if it is gone or already ended (a redelivered task)."""
    with db.transaction() as cursor:
        cursor.execute(
            f"""
            UPDATE jobs SET state = 'running', start_time = coalesce(start_time, now()),
                   stage = NULL, progress = 0, rows_read = 0, error = NULL, update_time = now()
            WHERE id = %s AND state IN ('queued', 'running')
            RETURNING {_COLUMNS}
            """,
            (job_id,),
        )
        row = cursor.fetchone()
    return dict(row) if row else None


def job_progress(
    job_id: uuid.UUID, *, stage: str, progress: float, rows_read: int, rows_total: int
) -> None:
    with db.transaction() as cursor:
        cursor.execute(
            """
            UPDATE jobs SET stage = %s, progress = %s, rows_read = %s, rows_total = %s,
                   update_time = now()
            WHERE id = %s AND state = 'running'
            """,
            (stage, progress, rows_read, rows_total, job_id),
        )


def job_succeed(job_id: uuid.UUID, *, model_id: str, metrics: dict[str, Any]) -> None:
    with db.transaction() as cursor:
        cursor.execute(
            """
            UPDATE jobs SET state = 'succeeded', stage = NULL, progress = 1, model_id = %s,
                   metrics = %s, end_time = now(), update_time = now()
            WHERE id = %s
            """,
            (uuid.UUID(model_id), Json(metrics), job_id),
        )


def job_fail(job_id: uuid.UUID, *, error: str) -> None:
    with db.transaction() as cursor:
        cursor.execute(
            """
            UPDATE jobs SET state = 'failed', stage = NULL, error = %s, end_time = now(),
                   update_time = now()
            WHERE id = %s AND state <> 'succeeded'
            """,
            (error, job_id),
        )
