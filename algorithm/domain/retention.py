"""Retention: finished jobs, posted results and logged predictions older than their
configured age are deleted, and the oldest logged predictions past their cap, so the tables
stop growing with a deployment's age. What is still in use stays:

- a job that a metric record names (an evaluation's), or whose model version is still on the
  model volume (the job that trained it, say);
- each model's newest results row, the one its scheduled accuracy is computed from;
- a logged prediction that feedback or a review item names (web's tables, through
  PREDICTION_REFERRERS in algorithm/domain/prediction_log.py).

An evaluation's uploaded rows go with its job's age: once the job is done they are never
read again. The scheduler fires this daily on the monitoring queue (algorithm.jobqueue);
``python -m algorithm.domain.retention`` runs it once and prints what it deleted.
"""

import datetime
import json
import logging
import sys

from algorithm import settings
from algorithm.domain import db
from algorithm.domain.prediction_log import PREDICTION_REFERRERS, PREDICTIONS_TABLE
from algorithm.domain.store import ModelStore

logger = logging.getLogger(__name__)

# Rows per DELETE: each batch is its own short transaction, well within the statement bound.
BATCH_ROWS = 5_000

# One DELETE per table, each of at most %(batch)s rows older than %(days)s days.
_DELETE_EXPIRED = {
    "jobs": """
        DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs
            WHERE state IN ('succeeded', 'failed')
                AND end_time < now() - make_interval(days => %(days)s)
                AND NOT EXISTS (SELECT 1 FROM metric_records WHERE job_id = jobs.id)
                AND (model_id IS NULL OR NOT model_id = ANY(%(kept_models)s::uuid[]))
            LIMIT %(batch)s
        )
    """,
    "evaluation_rows": """
        DELETE FROM evaluation_rows WHERE (metric_id, position) IN (
            SELECT evaluation_rows.metric_id, evaluation_rows.position
            FROM evaluation_rows
            JOIN metric_records ON metric_records.id = evaluation_rows.metric_id
            JOIN jobs ON jobs.id = metric_records.job_id
            WHERE jobs.state IN ('succeeded', 'failed')
                AND jobs.end_time < now() - make_interval(days => %(days)s)
            LIMIT %(batch)s
        )
    """,
    "results": """
        DELETE FROM results WHERE id IN (
            SELECT id FROM results
            WHERE timestamp < now() - make_interval(days => %(days)s)
                AND id <> (
                    SELECT newest.id FROM results AS newest
                    WHERE newest.model_id = results.model_id
                    ORDER BY newest.timestamp DESC, newest.id DESC
                    LIMIT 1
                )
            LIMIT %(batch)s
        )
    """,
}


# Logged predictions nothing names: feedback, a review item.
_UNREFERRED = " AND ".join(
    f"NOT EXISTS (SELECT 1 FROM {table} WHERE {table}.{column} = {PREDICTIONS_TABLE}.id)"
    for table, column in PREDICTION_REFERRERS
)
# The oldest first, found through the index on created_at.
_DELETE_PREDICTIONS = f"""
    DELETE FROM {PREDICTIONS_TABLE} WHERE id IN (
        SELECT id FROM {PREDICTIONS_TABLE}
        WHERE created_at < %(before)s AND {_UNREFERRED}
        ORDER BY created_at
        LIMIT %(batch)s
    )
"""
# The time of the newest logged prediction past the cap (the cap-th newest, counting from 0).
# It walks the index on created_at past `cap` entries, seconds for tens of millions: a
# daily job's statement, bounded apart from a request's.
_CAP_TIME = f"""
    SELECT created_at FROM {PREDICTIONS_TABLE} ORDER BY created_at DESC OFFSET %(cap)s LIMIT 1
"""
CAP_STATEMENT_TIMEOUT = "120s"


def purge_expired() -> dict[str, int]:
    """Delete what is past its retention; the rows deleted, per table."""
    deleted = dict.fromkeys(_DELETE_EXPIRED, 0)
    if settings.JOB_RETENTION_DAYS:
        kept_models = [manifest["model_id"] for manifest in ModelStore().list_manifests()]
        days = settings.JOB_RETENTION_DAYS
        deleted["evaluation_rows"] = _delete_in_batches("evaluation_rows", {"days": days})
        deleted["jobs"] = _delete_in_batches("jobs", {"days": days, "kept_models": kept_models})
    if settings.RESULT_RETENTION_DAYS:
        deleted["results"] = _delete_in_batches("results", {"days": settings.RESULT_RETENTION_DAYS})
    deleted["predictions"] = purge_predictions(
        days=settings.PREDICTION_LOG_RETENTION_DAYS, max_rows=settings.PREDICTION_LOG_MAX_ROWS
    )
    logger.info(
        "Retention deleted %(jobs)d jobs, %(evaluation_rows)d evaluation rows, "
        "%(results)d results rows and %(predictions)d logged predictions",
        deleted,
    )
    return deleted


def purge_predictions(*, days: int, max_rows: int) -> int:
    """Delete the logged predictions older than `days` days (0: none by age), then the oldest
    past the newest `max_rows` (0: no cap), but those feedback or a review names; the rows
    deleted."""
    total = 0
    if days:
        with db.transaction() as cursor:
            cursor.execute("SELECT now() - make_interval(days => %s) AS before", (days,))
            before = db.fetch_one(cursor)["before"]
        total += _delete_predictions_before(before)
    if max_rows:
        with db.transaction() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", (CAP_STATEMENT_TIMEOUT,))
            cursor.execute(_CAP_TIME, {"cap": max_rows})
            newest_past_cap = cursor.fetchone()
        if newest_past_cap is not None:
            # Up to the newest past the cap, itself included: one microsecond later.
            total += _delete_predictions_before(
                newest_past_cap["created_at"] + datetime.timedelta(microseconds=1)
            )
    return total


def _delete_predictions_before(before: datetime.datetime) -> int:
    total = 0
    while True:
        with db.transaction() as cursor:
            cursor.execute(_DELETE_PREDICTIONS, {"before": before, "batch": BATCH_ROWS})
            total += cursor.rowcount
        if cursor.rowcount < BATCH_ROWS:
            return total


def _delete_in_batches(table: str, params: dict[str, object]) -> int:
    total = 0
    while True:
        with db.transaction() as cursor:
            cursor.execute(_DELETE_EXPIRED[table], {**params, "batch": BATCH_ROWS})
            total += cursor.rowcount
        if cursor.rowcount < BATCH_ROWS:
            return total


if __name__ == "__main__":
    # Only the counts on stdout, for scripts; the daily task logs them instead.
    json.dump(purge_expired(), sys.stdout)
    print()
