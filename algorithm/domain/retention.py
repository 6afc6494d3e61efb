"""Retention: finished jobs and posted results older than their configured age are deleted,
so the tables stop growing with a deployment's age. What is still in use stays:

- a job that a metric record names (an evaluation's), or whose model version is still on the
  model volume (the job that trained it, say);
- each model's newest results row, the one its scheduled accuracy is computed from.

An evaluation's uploaded rows go with its job's age: once the job is done they are never
read again. The scheduler fires this daily on the monitoring queue (algorithm.jobqueue);
``python -m algorithm.domain.retention`` runs it once and prints what it deleted.
"""

import json
import logging
import sys

from algorithm import settings
from algorithm.domain import db
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
    logger.info(
        "Retention deleted %(jobs)d jobs, %(evaluation_rows)d evaluation rows and "
        "%(results)d results rows",
        deleted,
    )
    return deleted


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
