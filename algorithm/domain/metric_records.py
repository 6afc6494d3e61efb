"""Metric records: one evaluation of a model version, in the ``metric_records`` table."""

import uuid
from typing import cast

from psycopg2.extras import Json, execute_values

from algorithm.domain import db, jobs
from algorithm.domain.errors import FailedPrecondition, NotFound, parse_uuid
from algorithm.domain.records import Job, MetricRecord, Metrics

_SELECT = """
    SELECT r.id, r.model_id, r.job_id, r.source, r.row_count, r.metrics, r.create_time,
           j.state, j.error, j.end_time
    FROM metric_records r JOIN jobs j ON j.id = r.job_id
"""


def metric_record_create(
    *, model_id: str, algorithm: str, rows: list[tuple[str, str]] | None
) -> tuple[Job, MetricRecord]:
    """The evaluation job, its empty metric record and any uploaded rows, in one transaction."""
    metric_id = uuid.uuid4()
    with db.transaction() as cursor:
        job, _ = jobs.job_create(
            kind="evaluate",
            algorithm=algorithm,
            parameters={},
            model_id=model_id,
            metric_id=metric_id,
            cursor=cursor,
        )
        cursor.execute(
            "INSERT INTO metric_records (id, model_id, job_id, source, row_count) "
            "VALUES (%s, %s, %s, %s, %s)",
            (metric_id, uuid.UUID(model_id), job["id"], "upload" if rows else "data_table", 0),
        )
        if rows:
            execute_values(
                cursor,
                "INSERT INTO evaluation_rows (metric_id, position, text, label) VALUES %s",
                [(metric_id, position, text, label) for position, (text, label) in enumerate(rows)],
                page_size=5_000,
            )
    return job, metric_record_get(metric_id)


def metric_record_get(metric_id: object) -> MetricRecord:
    metric_uuid = parse_uuid(metric_id, "metric_id")
    with db.transaction() as cursor:
        cursor.execute(f"{_SELECT} WHERE r.id = %s", (metric_uuid,))
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Metric record {metric_uuid} does not exist.")
    # _SELECT's columns are MetricRecord's keys.
    return cast(MetricRecord, dict(row))


def metric_record_list(model_id: str) -> list[MetricRecord]:
    with db.transaction() as cursor:
        cursor.execute(
            f"{_SELECT} WHERE r.model_id = %s ORDER BY r.create_time DESC, r.id",
            (uuid.UUID(model_id),),
        )
        return [cast(MetricRecord, dict(row)) for row in cursor.fetchall()]


def metric_record_delete(metric_id: object) -> None:
    record = metric_record_get(metric_id)
    if record["state"] not in jobs.TERMINAL_STATES:
        raise FailedPrecondition(
            f"Metric record {record['id']} is still being computed; delete it once its job "
            f"({record['job_id']}) has ended."
        )
    with db.transaction() as cursor:
        cursor.execute("DELETE FROM metric_records WHERE id = %s", (record["id"],))


def metric_records_delete_for_model(model_id: str) -> None:
    with db.transaction() as cursor:
        cursor.execute("DELETE FROM metric_records WHERE model_id = %s", (uuid.UUID(model_id),))


def evaluation_rows(metric_id: uuid.UUID) -> tuple[list[str], list[str]]:
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT text, label FROM evaluation_rows WHERE metric_id = %s ORDER BY position",
            (metric_id,),
        )
        rows = cursor.fetchall()
    return [row["text"] for row in rows], [row["label"] for row in rows]


def metric_record_fill(metric_id: uuid.UUID, *, row_count: int, metrics: Metrics) -> None:
    with db.transaction() as cursor:
        cursor.execute(
            "UPDATE metric_records SET row_count = %s, metrics = %s WHERE id = %s",
            (row_count, Json(metrics), metric_id),
        )
        # The uploaded rows have served their purpose.
        cursor.execute("DELETE FROM evaluation_rows WHERE metric_id = %s", (metric_id,))
