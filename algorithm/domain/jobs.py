"""Job records in the ``jobs`` table: what the API reports and what the worker updates.

A worker takes a job with job_start and touches its row while it runs (heartbeat). A job
left running but untouched for JOB_LEASE_SECONDS lost its worker (killed, or cut off from
the database): requeue_orphaned queues it again. Taking a job is one conditional UPDATE,
so a duplicate or redelivered task finds the job taken, or ended, and does nothing.
"""

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import cast

import psycopg2.extras
from psycopg2.extras import Json

from algorithm import settings
from algorithm.domain import db
from algorithm.domain.errors import NotFound, Unavailable, parse_uuid
from algorithm.domain.records import Job, JobKind, Metrics, Parameters

logger = logging.getLogger(__name__)

TERMINAL_STATES = ("succeeded", "failed")
_COLUMNS = (
    "id, kind, state, stage, progress, rows_read, rows_total, algorithm, parameters, "
    "model_id, metric_id, metrics, error, create_time, start_time, end_time, promotion"
)


def job_create(
    *,
    kind: JobKind,
    algorithm: str,
    parameters: Parameters,
    request_id: uuid.UUID | None = None,
    model_id: str | None = None,
    metric_id: uuid.UUID | None = None,
    promotion: bool = False,
    cursor: psycopg2.extras.RealDictCursor | None = None,
) -> tuple[Job, bool]:
    """Insert a queued job; with a known request_id return that job instead. (job, created).

    promotion: the version it trains is a challenger, promoted or kept by the promotion
    policy. With a cursor, the insert joins the caller's transaction.
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
                promotion=promotion,
                cursor=own_cursor,
            )
    cursor.execute(
        f"""
        INSERT INTO jobs
            (id, kind, algorithm, parameters, request_id, model_id, metric_id, promotion)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
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
            promotion,
        ),
    )
    row = cursor.fetchone()
    if row is not None:
        return _job(row), True
    cursor.execute(f"SELECT {_COLUMNS} FROM jobs WHERE request_id = %s", (request_id,))
    return _job(db.fetch_one(cursor)), False


def _job(row: psycopg2.extras.RealDictRow) -> Job:
    # The row holds _COLUMNS, Job's keys.
    return cast(Job, dict(row))


def job_get(job_id: object) -> Job:
    job_uuid = parse_uuid(job_id, "job_id")
    with db.transaction() as cursor:
        cursor.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = %s", (job_uuid,))
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Job {job_uuid} does not exist.")
    return _job(row)


def job_list(*, limit: int, offset: int = 0) -> tuple[list[Job], int]:
    """The newest jobs first, a page of them, and how many there are in all."""
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS total FROM jobs")
        total = int((cursor.fetchone() or {"total": 0})["total"])
        cursor.execute(
            f"SELECT {_COLUMNS} FROM jobs ORDER BY create_time DESC, id DESC LIMIT %s OFFSET %s",
            (limit, offset),
        )
        return [_job(row) for row in cursor.fetchall()], total


def promotion_job_in_flight(
    cursor: psycopg2.extras.RealDictCursor, request_id: uuid.UUID | None = None
) -> Job | None:
    """A challenger's job still queued or running, if any, in the caller's transaction:
    other than the one request_id started, if it did."""
    cursor.execute(
        f"SELECT {_COLUMNS} FROM jobs WHERE promotion AND state IN ('queued', 'running') "
        "AND (%(request)s::uuid IS NULL OR request_id IS DISTINCT FROM %(request)s) "
        "ORDER BY create_time LIMIT 1",
        {"request": request_id},
    )
    row = cursor.fetchone()
    return _job(row) if row else None


def job_start(job_id: uuid.UUID) -> Job | None:
    """Take a job: a queued one, or a running one whose worker stopped touching it.

    None if it is gone, ended, or running in a live worker: the task is a duplicate.
    """
    with db.transaction() as cursor:
        cursor.execute(
            f"""
            UPDATE jobs SET state = 'running', start_time = coalesce(start_time, now()),
                   stage = NULL, progress = 0, rows_read = 0, error = NULL,
                   attempts = attempts + 1, update_time = now()
            WHERE id = %s AND (
                state = 'queued'
                OR (state = 'running' AND update_time < now() - make_interval(secs => %s))
            )
            RETURNING {_COLUMNS}
            """,
            (job_id, settings.JOB_LEASE_SECONDS),
        )
        row = cursor.fetchone()
    return _job(row) if row else None


def job_touch(job_id: uuid.UUID) -> None:
    with db.transaction() as cursor:
        cursor.execute(
            "UPDATE jobs SET update_time = now() WHERE id = %s AND state = 'running'", (job_id,)
        )


@contextlib.contextmanager
def heartbeat(job_id: uuid.UUID) -> Iterator[None]:
    """Touch a running job's row from a thread for as long as the body runs; if the process
    is stopped meanwhile, end the lease (hand_back)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(settings.JOB_LEASE_SECONDS / 6):
            try:
                job_touch(job_id)
            except Unavailable as error:
                logger.warning("Job %s heartbeat missed: %s", job_id, error)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    except SystemExit:
        # A worker's pool process turns SIGTERM into SystemExit (billiard), which compose's
        # stop and honcho send mid-job.
        stop.set()
        thread.join()
        hand_back(job_id)
        raise
    finally:
        stop.set()
        thread.join()


def hand_back(job_id: uuid.UUID) -> None:
    """End a running job's lease, for a worker that stops before it ends: another worker
    takes it at once when Celery puts its task back on the queue (acks_late,
    reject_on_worker_lost), or the next sweep queues it (requeue_orphaned)."""
    try:
        with db.transaction() as cursor:
            cursor.execute(
                "UPDATE jobs SET update_time = now() - make_interval(secs => %s)"
                " WHERE id = %s AND state = 'running'",
                (settings.JOB_LEASE_SECONDS + 1, job_id),
            )
    except db.LOST as error:
        logger.warning("Stopping mid-job: job %s waits its lease out: %s", job_id, error)
        return
    logger.warning("Stopping mid-job: handed job %s back", job_id)


def requeue_orphaned() -> list[Job]:
    """Queue again the running jobs whose worker stopped touching them, and fail those
    already taken JOB_MAX_ATTEMPTS times. Returns the queued ones, for the caller to send."""
    with db.transaction() as cursor:
        cursor.execute(
            f"""
            UPDATE jobs SET
                state = CASE WHEN attempts < %(most)s THEN 'queued' ELSE 'failed' END,
                error = CASE WHEN attempts < %(most)s THEN NULL ELSE %(error)s END,
                end_time = CASE WHEN attempts < %(most)s THEN NULL ELSE now() END,
                stage = NULL, update_time = now()
            WHERE state = 'running' AND update_time < now() - make_interval(secs => %(lease)s)
            RETURNING {_COLUMNS}
            """,
            {
                "most": settings.JOB_MAX_ATTEMPTS,
                "lease": settings.JOB_LEASE_SECONDS,
                "error": f"The job was interrupted {settings.JOB_MAX_ATTEMPTS} times (its worker "
                "stopped or lost the database) and was given up; start it again.",
            },
        )
        rows = [_job(row) for row in cursor.fetchall()]
    for row in rows:
        logger.warning("Job %s lost its worker: now %s", row["id"], row["state"])
    return [row for row in rows if row["state"] == "queued"]


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


def job_succeed(job_id: uuid.UUID, *, model_id: str, metrics: Metrics) -> None:
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
