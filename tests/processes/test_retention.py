"""Retention deletes finished jobs and results past their age, and keeps what is still in
use: jobs of versions on the model volume, jobs that metric records name, each model's
newest results row, and anything younger or unfinished."""

import json
import subprocess
import sys
import uuid

import psycopg2
import pytest

from tests import support

pytestmark = pytest.mark.slow

OLD = "now() - interval '100 days'"


def run_retention(env: dict[str, str], **settings: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-m", "algorithm.domain.retention"],
        cwd=support.REPO_ROOT,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture
def env(algorithm_services, tmp_path):
    """A database of its own, so that what retention deletes is only what this test made,
    with the algorithm's tables and web's (the prediction log's); the model volume of the
    services, which hold a version (kept jobs name it)."""
    with support.isolated_env("retention", tmp_path) as env:
        env["MODEL_DIR"] = algorithm_services.env["MODEL_DIR"]
        support.run_checked("python -m web.manage release", env)
        yield env


def test_retention_deletes_what_is_old_and_unused_and_keeps_the_rest(env, served_model_id):
    ids = {name: str(uuid.uuid4()) for name in ("gone", "served", "evaluation", "young", "running")}
    metric_id, gone_model, model = (str(uuid.uuid4()) for _ in range(3))
    conn = psycopg2.connect(env["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cursor:
            for name, state, model_id, ended in [
                ("gone", "succeeded", gone_model, OLD),
                ("served", "succeeded", served_model_id, OLD),
                ("evaluation", "failed", None, OLD),
                ("young", "failed", None, "now() - interval '10 days'"),
                ("running", "running", None, "NULL"),
            ]:
                cursor.execute(
                    "INSERT INTO jobs (id, kind, state, algorithm, model_id, create_time, "
                    f"end_time) VALUES (%s, 'train', %s, 'nb', %s, {OLD}, {ended})",
                    (ids[name], state, model_id),
                )
            cursor.execute(
                "INSERT INTO metric_records (id, model_id, job_id, source) "
                "VALUES (%s, %s, %s, 'upload')",
                (metric_id, served_model_id, ids["evaluation"]),
            )
            cursor.executemany(
                "INSERT INTO evaluation_rows (metric_id, position, text, label) "
                "VALUES (%s, %s, 'hello', 'ham')",
                [(metric_id, 0), (metric_id, 1)],
            )
            for age in ("200 days", "150 days", "1 day"):
                cursor.execute(
                    "INSERT INTO results (model_id, y_true, y_pred, timestamp) "
                    f"VALUES (%s, '[1]', '[1]', now() - interval '{age}')",
                    (model,),
                )
            cursor.execute(
                f"INSERT INTO results (model_id, y_true, y_pred, timestamp) "
                f"VALUES (%s, '[1]', '[1]', {OLD})",
                (gone_model,),
            )

        assert run_retention(env, JOB_RETENTION_DAYS="0") == {
            "jobs": 0,
            "evaluation_rows": 0,
            "results": 2,
            "predictions": 0,
        }
        deleted = run_retention(env, JOB_RETENTION_DAYS="30", RESULT_RETENTION_DAYS="30")

        assert deleted == {"jobs": 1, "evaluation_rows": 2, "results": 0, "predictions": 0}
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT id::text FROM jobs WHERE id = ANY(%s::uuid[])", ([*ids.values()],)
            )
            assert {row[0] for row in cursor.fetchall()} == {
                ids[name] for name in ("served", "evaluation", "young", "running")
            }
            cursor.execute("SELECT count(*) FROM metric_records WHERE id = %s", (metric_id,))
            assert cursor.fetchone() == (1,)
            cursor.execute(
                "SELECT model_id::text, now() - timestamp < interval '2 days' FROM results "
                "WHERE model_id = ANY(%s::uuid[])",
                ([model, gone_model],),
            )
            # Each model's newest row stays, however old: its accuracy is computed from it.
            assert sorted(cursor.fetchall()) == sorted([(model, True), (gone_model, False)])
    finally:
        conn.close()
