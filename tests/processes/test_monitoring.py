"""Scheduled monitoring through the real services: schedules (REST, gRPC, the Flask shim),
results, accuracies, and the documented test data. The real scheduler ticks are in
test_monitoring_durability.py."""

import json
import uuid

import grpc
import psycopg2
import pytest
import redis

from algorithm.v1 import monitoring_pb2, monitoring_pb2_grpc, training_pb2
from tests import support

pytestmark = pytest.mark.slow

MODEL_1 = "11111111-1111-4111-8111-111111111111"
MODEL_2 = "22222222-2222-4222-8222-222222222222"
FIELDS = "cron_expression must have 5 fields (minute hour day-of-month month day-of-week)"


@pytest.fixture(scope="module")
def monitoring_stub(grpc_channel):
    return monitoring_pb2_grpc.MonitoringServiceStub(grpc_channel)


def sql(services, query: str, params=()) -> list[tuple]:
    conn = psycopg2.connect(services.env["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def redbeat_definition(services, model_id: str) -> dict | None:
    client = redis.Redis.from_url(services.env["REDIS_URL"])
    key = f"{services.env['REDIS_KEY_PREFIX']}redbeat:monitor-accuracy:{model_id}"
    definition = client.hget(key, "definition")
    return json.loads(definition) if definition else None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model_id": "not-a-uuid", "cron_expression": "* * * * *"}, "model_id"),
        ({"model_id": None, "cron_expression": "* * * * *"}, "model_id"),
        ({"cron_expression": "* * * * *"}, "model_id"),
        ({"model_id": "{id}", "cron_expression": 5}, "cron_expression"),
        ({"model_id": "{id}"}, "cron_expression"),
        ({"model_id": "{id}", "cron_expression": "   "}, "cron_expression"),
    ],
)
def test_malformed_schedule_bodies_are_400_and_leave_nothing(
    web_client, algorithm_services, body, field
):
    model_id = str(uuid.uuid4())
    body = {key: (model_id if value == "{id}" else value) for key, value in body.items()}
    response = web_client.post("/api/schedules/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert sql(
        algorithm_services,
        "SELECT count(*) FROM metrics_executions WHERE model_id = %s",
        (model_id,),
    ) == [(0,)]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", f"{FIELDS}, got 4 in '* * * *'."),
        ("* * * * * *", f"{FIELDS}, got 6 in '* * * * * *'."),
        ("61 * * * *", "cron_expression '61 * * * *' is not valid: "),
        ("* 25 * * *", "cron_expression '* 25 * * *' is not valid: "),
        ("every minute a b c", "cron_expression 'every minute a b c' is not valid: "),
    ],
)
def test_bad_cron_expressions_are_refused_before_anything_is_written(
    web_client, monitoring_stub, algorithm_services, expression, message
):
    model_id = str(uuid.uuid4())
    response = web_client.post(
        "/api/schedules/", {"model_id": model_id, "cron_expression": expression}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    with pytest.raises(grpc.RpcError) as raised:
        monitoring_stub.SetSchedule(
            monitoring_pb2.SetScheduleRequest(model_id=model_id, cron_expression=expression),
            timeout=5,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert web_client.get(f"/api/schedules/{model_id}/").status_code == 404
    assert sql(
        algorithm_services,
        "SELECT count(*) FROM metrics_executions WHERE model_id = %s",
        (model_id,),
    ) == [(0,)]
    assert redbeat_definition(algorithm_services, model_id) is None


def test_a_second_schedule_replaces_the_first_in_the_table_and_the_scheduler(
    web_client, algorithm_services
):
    model_id = str(uuid.uuid4())
    first = web_client.post(
        "/api/schedules/", {"model_id": model_id, "cron_expression": "*/5 * * * *"}, format="json"
    )
    assert first.status_code == 201
    assert redbeat_definition(algorithm_services, model_id)["schedule"]["minute"] == "*/5"
    second = web_client.post(
        "/api/schedules/", {"model_id": model_id, "cron_expression": "0  3 * * 1"}, format="json"
    )
    assert second.status_code == 201
    assert second.json()["cron_expression"] == "0 3 * * 1"
    assert second.json()["create_time"] == first.json()["create_time"]
    assert second.json()["update_time"] > first.json()["update_time"]
    rows = sql(
        algorithm_services,
        "SELECT cron_expression FROM metrics_executions WHERE model_id = %s",
        (model_id,),
    )
    assert rows == [("0 3 * * 1",)]
    definition = redbeat_definition(algorithm_services, model_id)
    # Mondays at 03:00 all year: the fields keep cron's order, not crontab's positional one.
    assert {key: definition["schedule"][key] for key in ("minute", "hour", "day_of_week")} == {
        "minute": "0",
        "hour": "3",
        "day_of_week": "1",
    }
    assert definition["schedule"]["month_of_year"] == "*"
    assert definition["task"] == "worker.tasks.compute_accuracy"
    assert definition["options"] == {"expires": 24 * 60 * 60}
    assert definition["args"] == [model_id]
    listed = web_client.get("/api/schedules/").json()
    assert [s for s in listed if s["model_id"] == model_id] == [second.json()]

    assert web_client.delete(f"/api/schedules/{model_id}/").status_code == 204
    assert web_client.get(f"/api/schedules/{model_id}/").status_code == 404
    assert redbeat_definition(algorithm_services, model_id) is None
    assert web_client.delete(f"/api/schedules/{model_id}/").status_code == 404


def test_new_schedules_stop_at_max_schedules_and_replacing_one_still_works(algorithm_services):
    upsert = (
        "python -c 'from algorithm.domain.errors import FailedPrecondition\n"
        "from algorithm.serving.services.monitoring import schedule_upsert\n"
        'try: schedule_upsert(model_id="{model_id}", cron_expression="0 4 * * *")\n'
        "except FailedPrecondition as error: raise SystemExit(error.message)'"
    )
    existing = str(uuid.uuid4())
    support.run_checked(upsert.format(model_id=existing), algorithm_services.env)
    count = sql(algorithm_services, "SELECT count(*) FROM metrics_executions")
    full = {**algorithm_services.env, "MAX_SCHEDULES": str(count[0][0])}

    support.run_checked(upsert.format(model_id=existing), full)
    with pytest.raises(RuntimeError) as refused:
        support.run_checked(upsert.format(model_id=uuid.uuid4()), full)

    assert (
        f"There are already {count[0][0]} schedules, the most this deployment allows "
        "(MAX_SCHEDULES): delete one first (DELETE /api/schedules/{model_id}/)."
    ) in str(refused.value)
    assert sql(algorithm_services, "SELECT count(*) FROM metrics_executions") == count


def test_the_flask_shim_speaks_the_cyclic_metric_services_shapes(algorithm_services):
    model_id = str(uuid.uuid4())
    response = algorithm_services.shim.post(
        f"{algorithm_services.http_url}/schedule",
        json={"model_id": model_id, "cron_expression": "*/10 * * * *"},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.json()["cron_expression"] == "*/10 * * * *"
    assert redbeat_definition(algorithm_services, model_id)["schedule"]["minute"] == "*/10"
    for body in ({"model_id": "x", "cron_expression": "* * * * *"}, {"model_id": model_id}):
        response = algorithm_services.shim.post(
            f"{algorithm_services.http_url}/schedule", json=body, timeout=10
        )
        assert response.status_code == 400
        assert response.json()["message"]
    response = algorithm_services.shim.post(
        f"{algorithm_services.http_url}/schedule",
        data="{oops",
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["message"]) == (
        400,
        "The body must be a JSON object.",
    )
    missing = algorithm_services.shim.get(
        f"{algorithm_services.http_url}/results/{uuid.uuid4()}", timeout=10
    )
    assert missing.status_code == 404


def test_the_documented_test_data_gives_the_documented_accuracies(
    web_client, monitoring_stub, algorithm_services
):
    support.run_checked("python -m algorithm.tools.sql_schema --test-data", algorithm_services.env)
    for model_id, accuracy, samples in ((MODEL_1, 0.75, 4), (MODEL_2, 0.6, 5)):
        support.scheduled_check(algorithm_services.env, model_id)
        body = web_client.get(f"/api/results/{model_id}/").json()
        assert (body["accuracy"], body["samples"], body["error"]) == (accuracy, samples, None)
        newest = sql(
            algorithm_services,
            "SELECT id FROM results WHERE model_id = %s ORDER BY timestamp DESC, id DESC LIMIT 1",
            (model_id,),
        )
        assert body["result_id"] == newest[0][0]
        shim = algorithm_services.shim.get(
            f"{algorithm_services.http_url}/results/{model_id}", timeout=10
        ).json()
        assert (shim["accuracy"], shim["result_id"]) == (accuracy, body["result_id"])
        reply = monitoring_stub.GetAccuracy(
            monitoring_pb2.GetAccuracyRequest(model_id=model_id), timeout=5
        )
        assert (reply.accuracy, reply.samples) == (accuracy, samples)
    # A duplicate tick writes the same value.
    support.scheduled_check(algorithm_services.env, MODEL_2)
    assert web_client.get(f"/api/results/{MODEL_2}/").json()["accuracy"] == 0.6


def test_posted_results_are_validated_and_the_newest_one_is_scored(web_client, algorithm_services):
    model_id = str(uuid.uuid4())
    response = web_client.get(f"/api/results/{model_id}/")
    assert response.status_code == 404
    assert response.json()["message"].startswith(
        f"No accuracy has been computed for model {model_id} yet"
    )
    for body, field in (
        ({"model_id": model_id, "y_true": ["a"], "y_pred": ["a", "b"]}, "non_field_errors"),
        ({"model_id": model_id, "y_true": [], "y_pred": []}, "y_true"),
        ({"model_id": model_id, "y_true": [True], "y_pred": ["a"]}, "y_true[0]"),
        ({"model_id": model_id, "y_true": [["a"]], "y_pred": ["a"]}, "y_true[0]"),
        ({"model_id": model_id, "y_true": ["a"], "y_pred": ["x" * 101]}, "y_pred[0]"),
        ({"model_id": "nope", "y_true": ["a"], "y_pred": ["a"]}, "model_id"),
    ):
        response = web_client.post("/api/results/", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["extra"]["fields"], response.json()
    response = web_client.post(
        "/api/results/",
        {"model_id": model_id, "y_true": ["a", 1, "b"], "y_pred": ["a", 1, "c"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["samples"] == 3
    support.scheduled_check(algorithm_services.env, model_id)
    body = web_client.get(f"/api/results/{model_id}/").json()
    assert (body["accuracy"], body["result_id"]) == (pytest.approx(2 / 3), response.json()["id"])


def test_a_row_that_cannot_be_scored_records_an_error_instead_of_failing(
    web_client, algorithm_services
):
    model_id = str(uuid.uuid4())
    sql(
        algorithm_services,
        "INSERT INTO results (model_id, y_true, y_pred) VALUES (%s, %s, %s)",
        (model_id, '["a", "b"]', '["a"]'),
    )
    support.scheduled_check(algorithm_services.env, model_id)
    body = web_client.get(f"/api/results/{model_id}/").json()
    assert body["accuracy"] is None
    assert body["error"].endswith("must be non-empty and of equal length, got 2 and 1.")


def test_training_records_the_hold_out_so_the_new_model_can_be_monitored(
    web_client, training_stub, algorithm_services, sms_rows
):
    algorithm_services.replace_data(sms_rows)
    job = training_stub.Train(training_pb2.TrainRequest(), timeout=5).job
    final = list(
        training_stub.WatchJob(training_pb2.WatchJobRequest(job_id=job.job_id), timeout=120)
    )[-1].job
    assert final.state == training_pb2.JOB_STATE_SUCCEEDED
    rows = sql(
        algorithm_services,
        "SELECT jsonb_array_length(y_true), jsonb_array_length(y_pred) FROM results "
        "WHERE model_id = %s",
        (final.model_id,),
    )
    assert rows == [(final.metrics.test_rows, final.metrics.test_rows)]
    support.scheduled_check(algorithm_services.env, final.model_id)
    body = web_client.get(f"/api/results/{final.model_id}/").json()
    assert body["accuracy"] == pytest.approx(final.metrics.accuracy)

    # Deleting the version removes its schedule.
    web_client.post(
        "/api/schedules/",
        {"model_id": final.model_id, "cron_expression": "0 * * * *"},
        format="json",
    )
    # The new version is active; make another one active so it can be deleted.
    algorithm_services.publish_model(
        [(r["text"], r["label"]) for r in support.read_tsv("confirmation_tr.tsv")], activate=True
    )
    assert web_client.delete(f"/api/models/{final.model_id}/").status_code == 204
    assert web_client.get(f"/api/schedules/{final.model_id}/").status_code == 404
    assert redbeat_definition(algorithm_services, final.model_id) is None


def test_with_the_schedulers_redis_down_nothing_is_written(
    algorithm_services, channel_without_redis
):
    model_id = str(uuid.uuid4())
    stub = monitoring_pb2_grpc.MonitoringServiceStub(channel_without_redis)
    with pytest.raises(grpc.RpcError) as raised:
        stub.SetSchedule(
            monitoring_pb2.SetScheduleRequest(model_id=model_id, cron_expression="* * * * *"),
            timeout=30,
        )
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == (
        "The scheduler's store (Redis) is unavailable; nothing was changed. Try again shortly."
    )
    count = "SELECT count(*) FROM metrics_executions WHERE model_id = %s"
    assert sql(algorithm_services, count, (model_id,)) == [(0,)]
