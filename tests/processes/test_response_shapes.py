"""REST and the Flask shim answer with exactly the fields of the algorithm.v1 messages, so a
field added to a .proto file shows on every interface with no other edit."""

import pytest
from google.protobuf.descriptor import Descriptor

from algorithm.v1 import info_pb2, models_pb2, monitoring_pb2, training_pb2
from common.proto_json import json_name
from tests import support

pytestmark = pytest.mark.slow

_OPAQUE = {"google.protobuf.Struct", "google.protobuf.Timestamp", "google.protobuf.Value"}


def assert_shape(body, descriptor: Descriptor, where: str) -> None:
    """body has one key per field of the message, recursively."""
    assert isinstance(body, dict), f"{where} is not an object"
    assert set(body) == {json_name(field) for field in descriptor.fields}, where
    for field in descriptor.fields:
        value = body[json_name(field)]
        message = field.message_type
        if value is None or message is None or message.full_name in _OPAQUE:
            continue
        path = f"{where}.{json_name(field)}"
        if message.GetOptions().map_entry:
            value_type = message.fields_by_name["value"].message_type
            for key, item in value.items() if value_type else ():
                assert_shape(item, value_type, f"{path}[{key}]")
        elif len(message.fields) == 1 and message.fields[0].is_repeated:
            assert isinstance(value, list), f"{path} is a list of rows"
        elif field.is_repeated:
            for index, item in enumerate(value):
                assert_shape(item, message, f"{path}[{index}]")
        else:
            assert_shape(value, message, path)


def test_rest_and_the_shim_answer_with_the_fields_of_the_messages(
    web_client, algorithm_services, served_model_id
):
    rows = [
        {"text": "Congratulations! You won a free holiday, call now", "label": "spam"},
        {"text": "Are you home for dinner?", "label": "ham"},
    ]
    queued = web_client.post(
        f"/api/models/{served_model_id}/evaluate/", {"rows": rows}, format="json"
    ).json()
    assert_shape(queued, models_pb2.MetricRecord.DESCRIPTOR, "queued metric record")

    def ended():
        job = web_client.get(f"/api/jobs/{queued['job_id']}/").json()
        return job if job["state"] in ("succeeded", "failed") else None

    job = support.wait_until(ended, 120, "the evaluation job ending", interval=0.2)
    assert job["state"] == "succeeded"
    assert_shape(job, training_pb2.Job.DESCRIPTOR, "job")
    shim_job = algorithm_services.shim.get(
        f"{algorithm_services.http_url}/jobs/{job['job_id']}", timeout=10
    )
    assert shim_job.json() == job

    record = web_client.get(f"/api/metrics/{queued['metric_id']}/").json()
    assert_shape(record, models_pb2.MetricRecord.DESCRIPTOR, "metric record")
    assert record["metrics"]["confusion_matrix"]["rows"] == [[1, 0], [0, 1]]

    model = web_client.get(f"/api/models/{served_model_id}/").json()
    # The detail is GetModelResponse's model with its drift beside the model's fields.
    assert_shape(model.pop("drift"), models_pb2.Drift.DESCRIPTOR, "model drift")
    live, live_error = model.pop("live_accuracy"), model.pop("live_accuracy_error")
    assert_shape(model, models_pb2.Model.DESCRIPTOR, "model")
    # The detail adds GetLiveAccuracy's answer, but the model_id it already has.
    assert live_error is None
    assert_shape(
        {**live, "model_id": served_model_id},
        models_pb2.GetLiveAccuracyResponse.DESCRIPTOR,
        "live accuracy",
    )
    assert_shape(
        web_client.get("/api/models/").json()["results"][0], models_pb2.Model.DESCRIPTOR, "page"
    )

    algorithms = web_client.get("/api/algorithms/").json()
    for index, algorithm in enumerate(algorithms):
        assert_shape(algorithm, training_pb2.Algorithm.DESCRIPTOR, f"algorithms[{index}]")
    shim_algorithms = algorithm_services.shim.get(
        f"{algorithm_services.http_url}/algorithms", timeout=10
    )
    assert shim_algorithms.json() == algorithms

    described = web_client.get("/api/info/").json()["algorithm"]
    assert_shape(described, info_pb2.GetInfoResponse.DESCRIPTOR, "info.algorithm")

    schedule = web_client.post(
        "/api/schedules/",
        {"model_id": served_model_id, "cron_expression": "0 3 * * *"},
        format="json",
    ).json()
    assert_shape(schedule, monitoring_pb2.Schedule.DESCRIPTOR, "schedule")
    assert web_client.delete(f"/api/schedules/{served_model_id}/").status_code == 204
