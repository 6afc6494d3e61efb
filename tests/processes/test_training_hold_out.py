"""A training job whose hold-out is longer than one results row may hold: the job still
succeeds, and the new model is monitored from a sample of its hold-out (S3)."""

import json

import psycopg2
import pytest

from algorithm.domain import db, jobs, ml, training
from algorithm.domain.store import ModelStore
from common import limits
from common import settings as common_settings


@pytest.fixture
def in_process_algorithm(algorithm_services, monkeypatch):
    """The algorithm code in this process, on the services' database, with its own pool."""
    monkeypatch.setattr(common_settings, "DATABASE_URL", algorithm_services.env["DATABASE_URL"])
    monkeypatch.setattr(db, "_pool", None)
    monkeypatch.setattr(db, "_pool_pid", None)
    yield
    if db._pool is not None:
        db._pool.closeall()


def test_a_hold_out_over_the_results_limit_is_recorded_as_its_first_rows(
    in_process_algorithm, algorithm_services, sms_rows, monkeypatch, tmp_path
):
    limit = 1_000
    monkeypatch.setattr(limits, "MAX_RESULT_LABELS", limit)
    algorithm_services.replace_data(sms_rows)  # a hold-out of 1,394 rows
    job, _ = jobs.job_create(
        kind="train",
        algorithm=ml.DEFAULT_ALGORITHM,
        parameters=ml.resolve_parameters(ml.DEFAULT_ALGORITHM, {}),
    )

    training.run_training_job(str(job["id"]), ModelStore(tmp_path / "models"))

    done = jobs.job_get(job["id"])
    assert (done["state"], done["error"]) == ("succeeded", None)
    assert done["metrics"]["test_rows"] == 1_394
    conn = psycopg2.connect(algorithm_services.env["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT y_true, y_pred FROM results WHERE model_id = %s", (done["model_id"],)
            )
            [(y_true, y_pred)] = cursor.fetchall()
    finally:
        conn.close()
    y_true, y_pred = (json.loads(v) if isinstance(v, str) else v for v in (y_true, y_pred))
    assert len(y_true) == len(y_pred) == limit
    assert set(y_true) == {"ham", "spam"}
