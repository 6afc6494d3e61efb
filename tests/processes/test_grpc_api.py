"""The gRPC contract, against the real server process."""

import uuid

import grpc
import psycopg2
import pytest
from google.protobuf import struct_pb2

from algorithm.v1 import prediction_pb2, training_pb2, training_pb2_grpc
from common.wire import SERVICE_ERROR_METADATA
from tests import support

pytestmark = pytest.mark.slow


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=5)
    return raised.value


def test_predict_answers_with_the_active_model(prediction_stub, active_model_id):
    reply = support.wait_until(
        lambda: _predict_if_served(prediction_stub, active_model_id), 2, "model served"
    )
    assert reply.label == "spam"
    assert set(reply.scores) == {"ham", "spam"}
    assert sum(reply.scores.values()) == pytest.approx(1)
    assert reply.label == max(reply.scores, key=reply.scores.get)


def _predict_if_served(stub, model_id):
    reply = stub.Predict(
        prediction_pb2.PredictRequest(text="Free entry! Win cash now, text WIN to 80086"),
        timeout=5,
    )
    return reply if reply.model_id == model_id else None


def test_predict_batch_keeps_request_order(prediction_stub, served_model_id):
    texts = ["Congratulations, you won a free cruise, call now", "see you at dinner", "ok"]
    reply = prediction_stub.PredictBatch(
        prediction_pb2.PredictBatchRequest(texts=texts, model_id=served_model_id), timeout=5
    )
    assert reply.model_id == served_model_id
    assert [p.label for p in reply.predictions] == ["spam", "ham", "ham"]
    for text, prediction in zip(texts, reply.predictions, strict=True):
        single = prediction_stub.Predict(
            prediction_pb2.PredictRequest(text=text, model_id=served_model_id), timeout=5
        )
        assert dict(prediction.scores) == pytest.approx(dict(single.scores))


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"text": ""}, "text must not be empty."),
        ({"text": "   "}, "text must not be empty."),
        ({"text": "x" * 20_001}, "text has 20001 characters; the limit is 20000."),
        ({"text": "hi", "model_id": "not-a-uuid"}, "model_id must be a UUID, got 'not-a-uuid'."),
        ({"text": "hi", "reference": "r" * 201}, "reference has 201 characters; the limit is 200."),
        ({"text": "hi", "caller": "c" * 65}, "caller has 65 characters; the limit is 64."),
        (
            {"text": "hi", "reference": "a\x00b"},
            "reference must not contain NUL characters (\\x00).",
        ),
    ],
)
def test_predict_rejects_bad_input_with_invalid_argument(
    prediction_stub, served_model_id, request_fields, message
):
    error = rpc_error(prediction_stub.Predict, prediction_pb2.PredictRequest(**request_fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message


def test_predict_with_unknown_model_is_not_found(prediction_stub, served_model_id):
    missing = str(uuid.uuid4())
    error = rpc_error(
        prediction_stub.Predict, prediction_pb2.PredictRequest(text="hi", model_id=missing)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == f"Model {missing} does not exist."


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"texts": []}, "texts must be a non-empty list of strings."),
        ({"texts": ["ok"] * 1001}, "texts has 1001 items; the limit is 1000 per call."),
        ({"texts": ["ok", ""]}, "texts[1] must not be empty."),
        (
            {"texts": ["ok", "fine"], "references": ["a"]},
            "references has 1 items for 2 texts; send none, or one per text.",
        ),
        (
            {"texts": ["ok", "fine"], "references": ["a", "r" * 201]},
            "references[1] has 201 characters; the limit is 200.",
        ),
        (
            {"texts": ["ok"], "request_ids": ["a", "b"]},
            "request_ids has 2 items for 1 texts; send none, or one per text.",
        ),
    ],
)
def test_predict_batch_rejects_bad_input(prediction_stub, served_model_id, fields, message):
    error = rpc_error(prediction_stub.PredictBatch, prediction_pb2.PredictBatchRequest(**fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message


def test_train_queues_a_job_and_returns_at_once(training_stub, algorithm_services, sms_rows):
    # Rows enough for the job to run for longer than WatchJob's quarter-second poll.
    rows = sms_rows * 4
    algorithm_services.replace_data(rows)
    reply = training_stub.Train(training_pb2.TrainRequest(), timeout=5)
    job = reply.job
    assert job.state == training_pb2.JOB_STATE_QUEUED
    assert job.kind == training_pb2.JOB_KIND_TRAIN
    assert job.algorithm == "linear_svm"
    assert dict(job.parameters) == {"C": 1.0, "ngram_max": 1.0}
    assert job.model_id == ""
    assert job.HasField("create_time")
    updates = list(
        training_stub.WatchJob(training_pb2.WatchJobRequest(job_id=job.job_id), timeout=120)
    )
    states = [update.job.state for update in updates]
    assert states[-1] == training_pb2.JOB_STATE_SUCCEEDED, updates[-1].job.error
    assert training_pb2.JOB_STATE_RUNNING in states
    assert states.count(training_pb2.JOB_STATE_SUCCEEDED) == 1
    final = updates[-1].job
    assert final.rows_read == final.rows_total == len(rows)
    assert final.metrics.accuracy >= 0.95
    assert final.metrics.train_rows + final.metrics.test_rows == len(rows)
    assert algorithm_services.store.exists(final.model_id)
    got = training_stub.GetJob(training_pb2.GetJobRequest(job_id=job.job_id), timeout=5).job
    assert got == final


def test_train_with_same_request_id_returns_the_same_job(training_stub):
    request_id = str(uuid.uuid4())
    first = training_stub.Train(training_pb2.TrainRequest(request_id=request_id), timeout=5)
    again = training_stub.Train(training_pb2.TrainRequest(request_id=request_id), timeout=5)
    assert again.job.job_id == first.job.job_id
    # Let the job end here, so that the model it activates cannot surprise a later test.
    list(training_stub.WatchJob(training_pb2.WatchJobRequest(job_id=first.job.job_id), timeout=60))


def test_training_on_one_label_fails_with_a_message(training_stub, algorithm_services):
    algorithm_services.replace_data([(f"text {i}", "only") for i in range(5)])
    job = training_stub.Train(training_pb2.TrainRequest(), timeout=5).job
    final = list(
        training_stub.WatchJob(training_pb2.WatchJobRequest(job_id=job.job_id), timeout=60)
    )[-1].job
    assert final.state == training_pb2.JOB_STATE_FAILED
    assert final.error == (
        "Training needs at least two different labels in the data table; found only 'only'."
    )
    assert final.model_id == ""


def test_the_ml_teams_ten_row_example_trains(training_stub, algorithm_services):
    rows = [(row["text"], row["label"]) for row in support.read_tsv("confirmation_tr.tsv")]
    algorithm_services.replace_data(rows)
    job = training_stub.Train(training_pb2.TrainRequest(), timeout=5).job
    final = list(
        training_stub.WatchJob(training_pb2.WatchJobRequest(job_id=job.job_id), timeout=60)
    )[-1].job
    assert final.state == training_pb2.JOB_STATE_SUCCEEDED, final.error
    assert (final.metrics.train_rows, final.metrics.test_rows) == (7, 3)
    assert set(final.metrics.per_label) == {"Confirmation_No", "Confirmation_Yes"}


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"algorithm": "deep_magic"}, "Unknown algorithm 'deep_magic'; choose one of: "),
        ({"parameters": {"gamma": 1}}, "Unknown parameter 'gamma' for algorithm 'linear_svm'"),
        ({"parameters": {"C": -1}}, "Parameter 'C' must be between 0.0001 and 10000.0, got -1.0."),
        ({"parameters": {"ngram_max": 1.5}}, "Parameter 'ngram_max' must be integer, got 1.5."),
        ({"request_id": "abc"}, "request_id must be a UUID, got 'abc'."),
    ],
)
def test_train_rejects_bad_arguments(training_stub, algorithm_services, request_fields, message):
    request = training_pb2.TrainRequest(
        algorithm=request_fields.get("algorithm", ""),
        request_id=request_fields.get("request_id", ""),
    )
    if "parameters" in request_fields:
        parameters = struct_pb2.Struct()
        parameters.update(request_fields["parameters"])
        request.parameters.CopyFrom(parameters)
    error = rpc_error(training_stub.Train, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(message)


def test_unknown_job_is_not_found_and_a_bad_id_is_invalid(training_stub, algorithm_services):
    missing = str(uuid.uuid4())
    for call in (training_stub.GetJob, _first_watch_update(training_stub)):
        error = rpc_error(call, training_pb2.GetJobRequest(job_id=missing))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == f"Job {missing} does not exist."
    error = rpc_error(training_stub.GetJob, training_pb2.GetJobRequest(job_id="42"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def _first_watch_update(stub):
    def call(request, timeout):
        watch = training_pb2.WatchJobRequest(job_id=request.job_id)
        return next(iter(stub.WatchJob(watch, timeout=timeout)))

    return call


def test_list_algorithms_describes_each_parameter(training_stub, algorithm_services):
    reply = training_stub.ListAlgorithms(training_pb2.ListAlgorithmsRequest(), timeout=5)
    names = [algorithm.name for algorithm in reply.algorithms]
    assert names[0] == "linear_svm"
    assert reply.algorithms[0].is_default
    assert "logistic_regression" in names
    c = next(p for p in reply.algorithms[0].parameters if p.name == "C")
    assert (c.type, c.default_value.number_value, c.minimum, c.maximum) == ("float", 1.0, 1e-4, 1e4)


def test_train_with_redis_down_is_unavailable(channel_without_redis):
    stub = training_pb2_grpc.TrainingServiceStub(channel_without_redis)
    error = rpc_error(stub.Train, training_pb2.TrainRequest())
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == (
        "The job queue (Redis) is unavailable; nothing was queued. Try again shortly."
    )


def test_watchers_are_capped_and_never_starve_predictions(
    training_stub, prediction_stub, algorithm_services, served_model_id
):
    # A job no worker will ever take: watching it lasts until the client gives up.
    job_id = str(uuid.uuid4())
    conn = psycopg2.connect(algorithm_services.env["DATABASE_URL"])
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs (id, kind, algorithm) VALUES (%s, 'train', 'linear_svm')", (job_id,)
        )
    conn.close()
    request = training_pb2.WatchJobRequest(job_id=job_id)
    watches = [training_stub.WatchJob(request, timeout=30) for _ in range(4)]
    for watch in watches:
        assert next(watch).job.state == training_pb2.JOB_STATE_QUEUED
    error = rpc_error(lambda r, timeout: next(training_stub.WatchJob(r, timeout=timeout)), request)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == "4 jobs are being watched already; poll GetJob instead."
    assert SERVICE_ERROR_METADATA in error.trailing_metadata()
    reply = prediction_stub.Predict(
        prediction_pb2.PredictRequest(text="hello", model_id=served_model_id), timeout=5
    )
    assert reply.model_id == served_model_id
    for watch in watches:
        watch.cancel()
    again = support.wait_until(
        lambda: _first_update_or_none(training_stub, request), 5, "a watch slot freeing up"
    )
    assert again.job.job_id == job_id


def _first_update_or_none(stub, request):
    watch = stub.WatchJob(request, timeout=5)
    try:
        return next(watch)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return None
        raise
    finally:
        watch.cancel()
