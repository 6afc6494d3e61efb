"""common.proto_json: the one mapping between the algorithm.v1 messages and JSON bodies, and
the OpenAPI schema that documents those bodies field for field."""

import datetime
import json
import uuid

import pytest
from google.protobuf.descriptor import Descriptor

from algorithm.v1 import info_pb2, models_pb2, monitoring_pb2, training_pb2
from common.proto_json import as_json, from_json, json_name

CREATED = datetime.datetime(2026, 1, 3, 10, 0, 0, 250_000, tzinfo=datetime.UTC)
EVALUATION_JOB = {
    "job_id": "5b1c0c53-3a57-4f0f-9d0e-6a3f4f1f6a10",
    "kind": "evaluate",
    "state": "succeeded",
    "stage": None,
    "progress": 1.0,
    "rows_read": 2,
    "rows_total": 2,
    "algorithm": "linear_svm",
    "parameters": {"C": 1, "ngram_max": 2, "alpha": 0.5},
    "model_id": None,
    "metrics": {
        "accuracy": 0.5,
        "macro_f1": 0.5,
        "per_label": {"ham": {"precision": 1.0, "recall": 0.5, "f1": 0.6, "support": 2}},
        "train_rows": None,
        "test_rows": None,
        "confusion_matrix": {"labels": ["ham", "spam"], "rows": [[1, 1], [0, 0]]},
    },
    "error": None,
    "create_time": "2026-01-03T10:00:00.250000+00:00",
    "start_time": "2026-01-03T10:00:01+00:00",
    "end_time": None,
    "metric_id": "0b8a4a4e-5d0e-4a51-8a9f-1d2b5e8f0c33",
    "promotion": False,
}


def test_a_job_comes_back_in_the_shape_it_went_in():
    job = from_json(training_pb2.Job, EVALUATION_JOB)
    assert as_json(job) == EVALUATION_JOB
    assert list(as_json(job)) == list(EVALUATION_JOB)


def test_the_json_follows_the_api_conventions():
    body = as_json(from_json(training_pb2.Job, EVALUATION_JOB))
    # Numbers stay numbers: proto3's JSON mapping writes int64 as a string.
    assert json.loads(json.dumps(body))["rows_read"] == 2
    # A Struct holds doubles only; whole numbers come back as the integers they were sent as.
    assert body["parameters"] == {"C": 1, "ngram_max": 2, "alpha": 0.5}
    assert isinstance(body["parameters"]["ngram_max"], int)
    # Enums: lower-case words without their prefix; the zero value is null.
    job = from_json(training_pb2.Job, {**EVALUATION_JOB, "stage": "saving"})
    assert job.stage == training_pb2.JOB_STAGE_SAVING
    assert (as_json(job)["kind"], as_json(job)["stage"]) == ("evaluate", "saving")


def test_unset_optional_fields_are_null_and_set_empty_ones_are_not():
    job = as_json(training_pb2.Job(error="", model_id=""))
    assert (job["error"], job["model_id"], job["metric_id"], job["metrics"]) == ("", "", None, None)
    assert (job["job_id"], job["rows_read"]) == ("", 0)


def test_datetimes_and_uuids_are_taken_where_timestamps_and_strings_go():
    model_id = uuid.uuid4()
    schedule = from_json(
        monitoring_pb2.Schedule,
        {"model_id": model_id, "cron_expression": "0 3 * * *", "create_time": CREATED},
    )
    assert as_json(schedule) == {
        "model_id": str(model_id),
        "cron_expression": "0 3 * * *",
        "create_time": "2026-01-03T10:00:00.250000+00:00",
        "update_time": None,
    }


def test_a_proto_json_name_renames_the_field_both_ways():
    stored = {
        "model_id": "m",
        "accuracy": None,
        "samples": 0,
        "result_id": None,
        "result_timestamp": None,
        "computed_time": "2026-01-03T10:00:00+00:00",
        "error": "There are no results for this model yet.",
    }
    reply = from_json(monitoring_pb2.GetAccuracyResponse, stored)
    assert reply.compute_time.seconds == 1_767_434_400
    assert as_json(reply) == stored
    descriptor = training_pb2.AlgorithmParameter.DESCRIPTOR
    assert json_name(descriptor.fields_by_name["default_value"]) == "default"
    assert json_name(descriptor.fields_by_name["minimum"]) == "minimum"


def test_keys_without_a_field_are_left_out():
    assert as_json(from_json(monitoring_pb2.Schedule, {"model_id": "m", "id": 7})) == {
        "model_id": "m",
        "cron_expression": "",
        "create_time": None,
        "update_time": None,
    }


def _json_fields(descriptor: Descriptor) -> set[str]:
    return {json_name(field) for field in descriptor.fields}


def _serializer_fields(serializer_class) -> set[str]:
    return set(serializer_class().fields)


@pytest.mark.parametrize(
    ("serializer_name", "message"),
    [
        ("JobSerializer", training_pb2.Job),
        ("MetricsSerializer", training_pb2.Metrics),
        ("LabelMetricsSerializer", training_pb2.LabelMetrics),
        ("ConfusionMatrixSerializer", training_pb2.ConfusionMatrix),
        ("AlgorithmSerializer", training_pb2.Algorithm),
        ("AlgorithmParameterSerializer", training_pb2.AlgorithmParameter),
        ("ModelSerializer", models_pb2.Model),
        ("MetricRecordSerializer", models_pb2.MetricRecord),
        ("AlgorithmInfoSerializer", info_pb2.GetInfoResponse),
        ("ScheduleSerializer", monitoring_pb2.Schedule),
        ("ResultSerializer", monitoring_pb2.CreateResultResponse),
        ("AccuracySerializer", monitoring_pb2.GetAccuracyResponse),
    ],
)
def test_the_openapi_schema_documents_every_field_of_the_message(serializer_name, message):
    from web.algorithm_proxy import monitoring_serializers, serializers

    serializer = getattr(serializers, serializer_name, None)
    documented = _serializer_fields(serializer or getattr(monitoring_serializers, serializer_name))
    assert documented == _json_fields(message.DESCRIPTOR), (
        f"{serializer_name} documents the REST body of {message.DESCRIPTOR.full_name}: "
        "give it the message's fields"
    )
