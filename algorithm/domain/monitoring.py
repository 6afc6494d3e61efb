"""Scheduled monitoring: cron schedules per model (table ``metrics_executions`` plus a RedBeat
entry), labelled outcomes (table ``results``) and the accuracy the periodic task computes
into Redis. Plain SQL through psycopg2, always with parameters."""

import contextlib
import datetime
import itertools
import json
import logging
import math
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import redis
from sklearn.metrics import accuracy_score

from algorithm.domain import db
from algorithm.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    check_no_nul,
    parse_uuid,
)
from algorithm.v1 import monitoring_pb2
from common import limits
from common import settings as common_settings
from common.proto_json import from_json

# Celery and RedBeat are imported where a schedule is read or written, so the serving
# paths (the gRPC server, the shim) never pay for their import.
if TYPE_CHECKING:
    from celery.schedules import crontab
    from redbeat import RedBeatSchedulerEntry

logger = logging.getLogger(__name__)

_SCHEDULE_COLUMNS = "model_id, cron_expression, create_time, update_time"


def parse_cron(expression: Any) -> "crontab":
    """A five-field cron expression (minute hour day-of-month month day-of-week) that fires
    at most once every SCHEDULE_MIN_INTERVAL_MINUTES."""
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidArgument("cron_expression must be a string such as '*/5 * * * *'.")
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidArgument(
            f"cron_expression must have 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(fields)} in {expression!r}."
        )
    from celery.schedules import ParseException, crontab

    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        # By name: crontab's positional order is not cron's (day of week comes third).
        schedule = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except (ValueError, ParseException) as error:
        reason = str(error).rstrip(".")
        raise InvalidArgument(f"cron_expression {expression!r} is not valid: {reason}.") from None
    gap = shortest_gap_minutes(schedule)
    if gap < limits.SCHEDULE_MIN_INTERVAL_MINUTES:
        raise InvalidArgument(
            f"cron_expression {expression!r} fires {gap} minute{'s' if gap > 1 else ''} apart; "
            f"schedules may fire at most every {limits.SCHEDULE_MIN_INTERVAL_MINUTES} minutes "
            f"(for example '*/{limits.SCHEDULE_MIN_INTERVAL_MINUTES} * * * *')."
        )
    return schedule


_DAY_MINUTES = 24 * 60
_ONE_DAY = datetime.timedelta(days=1)
# Four years hold every pattern of months, weekdays and leap days a cron expression can match.
_CALENDAR = [datetime.date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(4 * 366)]


def shortest_gap_minutes(schedule: "crontab") -> int:
    """The shortest time between two ticks of a schedule, in minutes (a day at most)."""
    times = sorted(hour * 60 + minute for hour in schedule.hour for minute in schedule.minute)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    if any(_fires_on(schedule, day) and _fires_on(schedule, day + _ONE_DAY) for day in _CALENDAR):
        gaps.append(times[0] + _DAY_MINUTES - times[-1])
    return min(gaps, default=_DAY_MINUTES)


def _fires_on(schedule: "crontab", day: datetime.date) -> bool:
    # Celery matches day of month and day of week both (0 is Sunday), not either as cron does.
    return (
        day.month in schedule.month_of_year
        and day.day in schedule.day_of_month
        and day.isoweekday() % 7 in schedule.day_of_week
    )


def _entry_name(model_id: uuid.UUID) -> str:
    return f"monitor-accuracy:{model_id}"


def _load_entry(app, model_id: uuid.UUID) -> "RedBeatSchedulerEntry | None":
    from redbeat import RedBeatSchedulerEntry
    from redbeat.schedulers import ensure_conf

    ensure_conf(app)
    key = RedBeatSchedulerEntry.generate_key(app, _entry_name(model_id))
    try:
        return RedBeatSchedulerEntry.from_key(key, app=app)
    except KeyError:
        return None


def schedule_upsert(*, model_id: Any, cron_expression: Any) -> monitoring_pb2.Schedule:
    """Create the model's schedule, or replace it; the row and the RedBeat entry change
    together or not at all."""
    from redbeat import RedBeatSchedulerEntry

    from algorithm.jobqueue import COMPUTE_ACCURACY_TASK, app

    model_uuid = parse_uuid(model_id, "model_id")
    schedule = parse_cron(cron_expression)
    expression = " ".join(cron_expression.split())
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
        row = cursor.fetchone()
        # Saved before the commit: if Redis fails, the transaction rolls back with it.
        _redbeat(entry.save)
    logger.info("Scheduled accuracy of model %s at %r", model_uuid, expression)
    return from_json(monitoring_pb2.Schedule, row)


def _check_room_for_schedule(cursor, model_uuid: uuid.UUID) -> None:
    # One writer at a time, so two new schedules at once cannot both take the last place.
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('metrics_executions'))")
    cursor.execute(
        "SELECT count(*) AS n FROM metrics_executions WHERE model_id <> %s", (model_uuid,)
    )
    if cursor.fetchone()["n"] >= limits.MAX_SCHEDULES:
        raise FailedPrecondition(
            f"There are already {limits.MAX_SCHEDULES} schedules, the most this deployment "
            "allows (MAX_SCHEDULES): delete one first (DELETE /api/schedules/{model_id}/)."
        )


def schedule_delete(*, model_id: Any, missing_ok: bool = False) -> None:
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
def _restored_on_failure(previous: "RedBeatSchedulerEntry | None", changed) -> Iterator[None]:
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


def schedule_get(*, model_id: Any) -> monitoring_pb2.Schedule:
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


def _redbeat(operation):
    try:
        return operation()
    except redis.RedisError as error:
        raise Unavailable(
            "The scheduler's store (Redis) is unavailable; nothing was changed. Try again shortly."
        ) from error


def _check_labels(values: Any, name: str) -> list[str | int | float]:
    if not isinstance(values, list) or not values:
        raise InvalidArgument(f"{name} must be a non-empty list of labels.")
    if len(values) > limits.MAX_RESULT_LABELS:
        raise InvalidArgument(
            f"{name} has {len(values)} labels; the limit is {limits.MAX_RESULT_LABELS}."
        )
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidArgument(f"{name}[{index}] must be a string or a number, got {value!r}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument(f"{name}[{index}] must be a finite number, got {value!r}.")
        if isinstance(value, str):
            check_no_nul(value, f"{name}[{index}]")
            if len(value) > limits.MAX_LABEL_CHARS:
                raise InvalidArgument(
                    f"{name}[{index}] has {len(value)} characters; a label has at most "
                    f"{limits.MAX_LABEL_CHARS}."
                )
    return values


def result_insert(
    *, model_id: Any, y_true: Any, y_pred: Any
) -> monitoring_pb2.CreateResultResponse:
    """Store one batch of true and predicted labels for a model."""
    model_uuid = parse_uuid(model_id, "model_id")
    y_true, y_pred = _check_labels(y_true, "y_true"), _check_labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise InvalidArgument(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}."
        )
    with db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO results (model_id, y_true, y_pred) VALUES (%s, %s, %s) "
            "RETURNING id, timestamp",
            (model_uuid, json.dumps(y_true), json.dumps(y_pred)),
        )
        row = cursor.fetchone()
    return from_json(
        monitoring_pb2.CreateResultResponse,
        {**row, "model_id": model_uuid, "samples": len(y_true)},
    )


def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        common_settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=5, decode_responses=True
    )


def _accuracy_key(model_uuid: uuid.UUID) -> str:
    return f"{common_settings.REDIS_KEY_PREFIX}accuracy:{model_uuid}"


def compute_accuracy(*, model_id: str) -> dict[str, Any]:
    """Score the model's newest results row and store the outcome in Redis.

    A row that cannot be scored (no row, empty or mismatched lists) stores an error outcome
    instead; nothing here raises for bad data, so the periodic task never retries forever.
    The same newest row always gives the same accuracy.
    """
    model_uuid = parse_uuid(model_id, "model_id")
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT id, y_true, y_pred, timestamp FROM results WHERE model_id = %s "
            "ORDER BY timestamp DESC, id DESC LIMIT 1",
            (model_uuid,),
        )
        row = cursor.fetchone()
    outcome: dict[str, Any] = {
        "model_id": str(model_uuid),
        "accuracy": None,
        "samples": 0,
        "result_id": row["id"] if row else None,
        "result_timestamp": row["timestamp"].astimezone(datetime.UTC).isoformat() if row else None,
        "computed_time": datetime.datetime.now(datetime.UTC).isoformat(),
        "error": None,
    }
    if row is None:
        outcome["error"] = "There are no results for this model yet."
    elif not isinstance(row["y_true"], list) or not isinstance(row["y_pred"], list):
        outcome["error"] = f"Results row {row['id']}: y_true and y_pred must be lists."
    elif not row["y_true"] or len(row["y_true"]) != len(row["y_pred"]):
        outcome["error"] = (
            f"Results row {row['id']}: y_true and y_pred must be non-empty and of equal length, "
            f"got {len(row['y_true'])} and {len(row['y_pred'])}."
        )
    else:
        true = [str(label) for label in row["y_true"]]
        predicted = [str(label) for label in row["y_pred"]]
        outcome["accuracy"] = float(accuracy_score(true, predicted))
        outcome["samples"] = len(true)
    _redis().set(_accuracy_key(model_uuid), json.dumps(outcome))
    return outcome


def accuracy_get(*, model_id: Any) -> monitoring_pb2.GetAccuracyResponse:
    """The latest accuracy the periodic task computed for a model."""
    model_uuid = parse_uuid(model_id, "model_id")
    try:
        stored = _redis().get(_accuracy_key(model_uuid))
    except redis.RedisError as error:
        raise Unavailable("Redis is unavailable; try again shortly.") from error
    if stored is None:
        raise NotFound(
            f"No accuracy has been computed for model {model_uuid} yet: it is computed on the "
            "model's schedule (POST /api/schedules/) from its newest results row."
        )
    return from_json(monitoring_pb2.GetAccuracyResponse, json.loads(stored))
