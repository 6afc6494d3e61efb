"""Monitoring's data: labelled outcomes (table ``results``) and the accuracy the periodic
task computes from the newest of them into Redis. The schedules that fire that task are the
serving side's (algorithm.serving.services.monitoring). Plain SQL through psycopg2, always
with parameters."""

import datetime
import json
import math
import uuid
from typing import cast

import redis
from sklearn.metrics import accuracy_score

from algorithm.domain import db
from algorithm.domain.errors import (
    InvalidArgument,
    NotFound,
    Unavailable,
    check_no_nul,
    parse_uuid,
)
from algorithm.domain.records import Accuracy, StoredResult
from common import limits
from common import settings as common_settings

Label = str | int | float


def _check_labels(values: object, name: str) -> list[Label]:
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


def result_insert(*, model_id: object, y_true: object, y_pred: object) -> StoredResult:
    """Store one batch of true and predicted labels for a model."""
    model_uuid = parse_uuid(model_id, "model_id")
    true, predicted = _check_labels(y_true, "y_true"), _check_labels(y_pred, "y_pred")
    if len(true) != len(predicted):
        raise InvalidArgument(
            f"y_true and y_pred must have the same length, got {len(true)} and {len(predicted)}."
        )
    with db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO results (model_id, y_true, y_pred) VALUES (%s, %s, %s) "
            "RETURNING id, timestamp",
            (model_uuid, json.dumps(true), json.dumps(predicted)),
        )
        row = db.fetch_one(cursor)
    return {
        "id": row["id"],
        "timestamp": row["timestamp"],
        "model_id": model_uuid,
        "samples": len(true),
    }


def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        common_settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=5, decode_responses=True
    )


def _accuracy_key(model_uuid: uuid.UUID) -> str:
    return f"{common_settings.REDIS_KEY_PREFIX}accuracy:{model_uuid}"


def compute_accuracy(*, model_id: str) -> Accuracy:
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
    outcome: Accuracy = {
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


def accuracy_get(*, model_id: object) -> Accuracy:
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
    # compute_accuracy wrote it, from an Accuracy.
    return cast(Accuracy, json.loads(stored))
