"""MonitoringService: cron schedules per model (table ``metrics_executions`` plus a RedBeat
entry), and the labelled outcomes and accuracy algorithm.domain.monitoring keeps, as
messages. The schedule lives here, beside the job queue it writes to: the domain computes
accuracy when the worker is told to, and knows nothing of Celery or RedBeat."""

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import psycopg2.extensions
import redis

from algorithm.domain import db
from algorithm.domain import monitoring as results
from algorithm.domain.errors import (
    FailedPrecondition,
    NotFound,
    Unavailable,
    parse_uuid,
)
from algorithm.v1 import monitoring_pb2
from common import limits
from common.proto_json import from_json

# Celery and RedBeat are imported where a schedule is read or written, so the serving
# paths (the gRPC server, the shim) never pay for their import.
if TYPE_CHECKING:
    from celery import Celery
    from redbeat import RedBeatSchedulerEntry

logger = logging.getLogger(__name__)

_SCHEDULE_COLUMNS = "model_id, cron_expression, create_time, update_time"
T = TypeVar("T")


def _entry_name(model_id: uuid.UUID) -> str:
    return f"monitor-accuracy:{model_id}"


def _load_entry(app: "Celery", model_id: uuid.UUID) -> "RedBeatSchedulerEntry | None":
    from redbeat import RedBeatSchedulerEntry
    from redbeat.schedulers import ensure_conf

    ensure_conf(app)
    key = RedBeatSchedulerEntry.generate_key(app, _entry_name(model_id))
    try:
        return RedBeatSchedulerEntry.from_key(key, app=app)
    except KeyError:
        return None


def schedule_upsert(*, model_id: object, cron_expression: object) -> monitoring_pb2.Schedule:
    """Create the model's schedule, or replace it; the row and the RedBeat entry change
    together or not at all."""
    from redbeat import RedBeatSchedulerEntry

    from algorithm.cron import parse_cron, shortest_gap_minutes
    from algorithm.jobqueue import COMPUTE_ACCURACY_TASK, app

    model_uuid = parse_uuid(model_id, "model_id")
    schedule = parse_cron(cron_expression)
    # parse_cron took it as a string: str() changes nothing.
    expression = " ".join(str(cron_expression).split())
    entry = RedBeatSchedulerEntry(
        _entry_name(model_uuid),
        COMPUTE_ACCURACY_TASK,
        schedule,
        args=[str(model_uuid)],
        # A tick the monitoring worker could not take before the next one is due is dropped,
        # so a stopped worker finds one tick per schedule waiting, not a backlog.
        options={"expires": shortest_gap_minutes(schedule) * 60},
        app=app,
    )
    previous = _redbeat(lambda: _load_entry(app, model_uuid))
    with _restored_on_failure(previous, entry), db.transaction() as cursor:
        _check_room_for_schedule(cursor, model_uuid)
        cursor.execute(
            f"""
                INSERT INTO metrics_executions (model_id, cron_expression) VALUES (%s, %s)
                ON CONFLICT (model_id) DO UPDATE
                    SET cron_expression = EXCLUDED.cron_expression, update_time = now()
                RETURNING {_SCHEDULE_COLUMNS}
                """,
            (model_uuid, expression),
        )
        row = db.fetch_one(cursor)
        # Saved before the commit: if Redis fails, the transaction rolls back with it.
        _redbeat(entry.save)
    logger.info("Scheduled accuracy of model %s at %r", model_uuid, expression)
    return from_json(monitoring_pb2.Schedule, row)


def _check_room_for_schedule(cursor: psycopg2.extensions.cursor, model_uuid: uuid.UUID) -> None:
    # One writer at a time, so two new schedules at once cannot both take the last place.
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('metrics_executions'))")
    cursor.execute(
        "SELECT count(*) AS n FROM metrics_executions WHERE model_id <> %s", (model_uuid,)
    )
    if db.fetch_one(cursor)["n"] >= limits.MAX_SCHEDULES:
        raise FailedPrecondition(
            f"There are already {limits.MAX_SCHEDULES} schedules, the most this deployment "
            "allows (MAX_SCHEDULES): delete one first (DELETE /api/schedules/{model_id}/)."
        )


def schedule_delete(*, model_id: object, missing_ok: bool = False) -> None:
    from algorithm.jobqueue import app

    model_uuid = parse_uuid(model_id, "model_id")
    previous = _redbeat(lambda: _load_entry(app, model_uuid))
    with _restored_on_failure(previous, previous), db.transaction() as cursor:
        cursor.execute("DELETE FROM metrics_executions WHERE model_id = %s", (model_uuid,))
        if cursor.rowcount == 0 and not missing_ok:
            raise NotFound(f"Model {model_uuid} has no schedule.")
        if previous is not None:
            _redbeat(previous.delete)


@contextlib.contextmanager
def _restored_on_failure(
    previous: "RedBeatSchedulerEntry | None", changed: "RedBeatSchedulerEntry | None"
) -> Iterator[None]:
    """If the database side fails after the scheduler entry changed (the commit, say), put
    the entry back as it was, so the row and the entry still agree."""
    try:
        yield
    except Exception:
        with contextlib.suppress(redis.RedisError):
            if previous is not None:
                previous.save()
            elif changed is not None:
                changed.delete()
        raise


def schedule_get(*, model_id: object) -> monitoring_pb2.Schedule:
    model_uuid = parse_uuid(model_id, "model_id")
    with db.transaction() as cursor:
        cursor.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM metrics_executions WHERE model_id = %s",
            (model_uuid,),
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Model {model_uuid} has no schedule.")
    return from_json(monitoring_pb2.Schedule, row)


def schedule_list() -> monitoring_pb2.ListSchedulesResponse:
    with db.transaction() as cursor:
        cursor.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM metrics_executions ORDER BY create_time, model_id"
        )
        rows = cursor.fetchall()
    return from_json(monitoring_pb2.ListSchedulesResponse, {"schedules": rows})


def _redbeat(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except redis.RedisError as error:
        raise Unavailable(
            "The scheduler's store (Redis) is unavailable; nothing was changed. Try again shortly."
        ) from error


def result_insert(
    *, model_id: object, y_true: object, y_pred: object
) -> monitoring_pb2.CreateResultResponse:
    """Store one batch of true and predicted labels for a model."""
    stored = results.result_insert(model_id=model_id, y_true=y_true, y_pred=y_pred)
    return from_json(monitoring_pb2.CreateResultResponse, stored)


def accuracy_get(*, model_id: object) -> monitoring_pb2.GetAccuracyResponse:
    """The latest accuracy the periodic task computed for a model."""
    return from_json(monitoring_pb2.GetAccuracyResponse, results.accuracy_get(model_id=model_id))
