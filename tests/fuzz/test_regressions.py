"""Defects found while fuzzing, each pinned by the smallest request that showed it."""

import math
import uuid

import grpc
import pytest

from algorithm.serving import grpc_server, http_shim
from algorithm.v1 import (
    info_pb2,
    info_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    monitoring_pb2,
    monitoring_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)
from tests import support


@pytest.fixture
def openapi(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_model_list_documents_its_404_past_the_last_page(openapi):
    # GET /api/models/?page=2 with a single page of models answers 404 "There is no page 2."
    responses = openapi["paths"]["/api/models/"]["get"]["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404", "429", "503"}


def test_the_ids_in_paths_are_documented_as_uuids(openapi):
    # Documented as any string, "0" was a valid model_id to clients, yet every call with it
    # was a 400.
    ids = {
        (path, method, parameter["name"]): parameter["schema"]
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and not path.startswith("/v2")  # the protocol's own
    }
    # Data rows, tokens and review items are numbered; everything the algorithm service keeps
    # has a UUID.
    numbered = {key: ids.pop(key) for key in list(ids) if key[2] in ("id", "token_id", "item_id")}
    assert len(ids) == 13
    assert {key for key, schema in ids.items() if schema.get("format") != "uuid"} == set()
    assert {schema["type"] for schema in numbered.values()} == {"integer"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/predict/", {"text": "hi", "model_id": 5}, "model_id"),
        ("/api/train/", {"request_id": False}, "request_id"),
        ("/api/schedules/", {"model_id": 1, "cron_expression": "* * * * *"}, "model_id"),
        ("/api/results/", {"model_id": True, "y_true": [1], "y_pred": [1]}, "model_id"),
    ],
)
def test_a_number_or_a_boolean_is_no_uuid(api_client, path, body, field):
    # DRF's UUIDField reads 5 as UUID(int=5), and false as the all-zero UUID.
    response = api_client.post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {field: ["Must be a valid UUID."]}


@pytest.fixture(scope="module")
def grpc_channel():
    """The gRPC servicers in this process: the checks below fail before any database call."""
    server, port = grpc_server.create_server("127.0.0.1:0")
    server.start()
    with support.service_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    server.stop(grace=None)


@pytest.mark.parametrize(
    ("value", "shown"), [(math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "nan")]
)
def test_a_train_parameter_that_is_no_finite_number_is_invalid(grpc_channel, value, shown):
    # json_format.MessageToDict raised on it, outside the servicer's error mapping: UNKNOWN.
    request = training_pb2.TrainRequest(algorithm="logistic_regression")
    request.parameters.update({"C": value})
    with pytest.raises(grpc.RpcError) as raised:
        training_pb2_grpc.TrainingServiceStub(grpc_channel).Train(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == (
        f"Parameter 'C' must be between 0.0001 and 10000.0, got {shown}."
    )


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_label_that_is_no_finite_number_is_invalid(grpc_channel, value):
    request = monitoring_pb2.CreateResultRequest(model_id=str(uuid.uuid4()))
    request.y_true.extend(["spam", "ham"])
    request.y_pred.extend(["spam", value])
    with pytest.raises(grpc.RpcError) as raised:
        monitoring_pb2_grpc.MonitoringServiceStub(grpc_channel).CreateResult(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == f"y_pred[1] must be a finite number, got {value!r}."


def test_a_nul_in_a_label_is_invalid_not_a_database_error(grpc_channel):
    request = monitoring_pb2.CreateResultRequest(model_id=str(uuid.uuid4()))
    request.y_true.extend(["spam", "h\x00m"])
    request.y_pred.extend(["spam", "ham"])
    with pytest.raises(grpc.RpcError) as raised:
        monitoring_pb2_grpc.MonitoringServiceStub(grpc_channel).CreateResult(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "y_true[1] must not contain NUL characters (\\x00)."


def test_a_label_longer_than_the_data_tables_is_invalid(grpc_channel):
    request = monitoring_pb2.CreateResultRequest(model_id=str(uuid.uuid4()))
    request.y_true.extend(["spam", "h" * 101])
    request.y_pred.extend(["spam", "h" * 100])
    with pytest.raises(grpc.RpcError) as raised:
        monitoring_pb2_grpc.MonitoringServiceStub(grpc_channel).CreateResult(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "y_true[1] has 101 characters; a label has at most 100."


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"text": "a\x00b", "label": "yes"},
            "rows[0].text must not contain NUL characters (\\x00).",
        ),
        ({"text": "ab", "label": "\x00"}, "rows[0].label must not contain NUL characters (\\x00)."),
    ],
)
def test_a_nul_in_evaluation_rows_is_invalid_not_a_database_error(fuzz_channel, row, message):
    info = info_pb2_grpc.InfoServiceStub(fuzz_channel).GetInfo(info_pb2.GetInfoRequest(), timeout=5)
    request = models_pb2.EvaluateModelRequest(
        model_id=info.active_model.model_id, rows=[models_pb2.LabelledText(**row)]
    )
    with pytest.raises(grpc.RpcError) as raised:
        models_pb2_grpc.ModelServiceStub(fuzz_channel).EvaluateModel(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == message


@pytest.mark.parametrize("path", ["/api/predict/", "/api/data/", "/api/train/"])
def test_json_nested_too_deeply_to_parse_is_a_400(api_client, path):
    # Python's json raises RecursionError, not the ValueError DRF's parser turns into a 400.
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "message": "JSON parse error - the body is nested too deeply.",
        "extra": {},
    }


@pytest.mark.parametrize("path", ["/predict", "/train", "/schedule"])
def test_the_flask_shim_answers_400_for_json_nested_too_deeply(path):
    body = "[" * 100_000 + "]" * 100_000
    response = http_shim.app.test_client().post(
        path,
        data=body,
        content_type="application/json",
        headers={"Authorization": support.service_authorization()},
    )
    assert response.status_code == 400
    assert response.get_json() == {
        "message": "The body is JSON nested too deeply to read.",
        "extra": {},
    }


@pytest.mark.parametrize("depth", [990, 100_000])
def test_the_shims_inference_protocol_answers_400_for_json_nested_too_deeply(depth):
    # 990: deep enough for Python's json, inside a request, yet short enough to pass a size
    # check; the protocol's route read it without catching RecursionError (a 500).
    data = "[" * depth + '"spam"' + "]" * depth
    tensor = '{"name": "text", "datatype": "BYTES", "shape": [1], "data": ' + data + "}"
    body = '{"inputs": [' + tensor + "]}"
    response = http_shim.app.test_client().post(
        "/v2/models/textclf/infer",
        data=body,
        content_type="application/json",
        headers={"Authorization": support.service_authorization()},
    )
    assert response.status_code == 400
    assert response.get_json() == {"error": "The body is JSON nested too deeply to read."}


def test_an_integer_beyond_a_double_is_an_invalid_parameter_for_the_flask_shim():
    # float() raised OverflowError on it: a 500.
    response = http_shim.app.test_client().post(
        "/train",
        json={"parameters": {"C": 10**400}},
        headers={"Authorization": support.service_authorization()},
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "Parameter 'C' must be between 0.0001 and 10000.0, got a number beyond the range of "
        "a double."
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/train/", {"parameters": {"C": 10**400}}, "parameters"),
        ("/api/train/", {"parameters": {"C": [1, {"x": -(2**1030)}]}}, "parameters"),
        (
            "/api/results/",
            {"model_id": str(uuid.uuid4()), "y_true": [10**400], "y_pred": [1]},
            "y_true[0]",
        ),
    ],
)
def test_a_number_beyond_a_double_is_a_400_not_a_500(api_client, path, body, field):
    # Building the gRPC request raised OverflowError: a protobuf Struct holds doubles.
    response = api_client.post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {
        field: ["Numbers must fit a double (at most about 1.8e308)."]
    }


def test_a_batch_prediction_is_documented_as_a_list(openapi):
    # {"texts": [...]} answers a list, which the schema described as one prediction object.
    ok = openapi["paths"]["/api/predict/"]["post"]["responses"]["200"]
    schema = ok["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PredictionOneOrMany"}
    assert openapi["components"]["schemas"]["PredictionOneOrMany"] == {
        "oneOf": [
            {"$ref": "#/components/schemas/Prediction"},
            {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}},
        ]
    }
