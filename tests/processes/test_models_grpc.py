"""ModelService over gRPC against the real server and worker: versions, rollback, deletion,
evaluations and their metric records, retraining."""

import threading
import time

import grpc
import pytest

from algorithm.v1 import models_pb2, models_pb2_grpc, prediction_pb2, training_pb2
from tests import support

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_stub(grpc_channel):
    return models_pb2_grpc.ModelServiceStub(grpc_channel)


@pytest.fixture(scope="module")
def turkish_rows():
    return [(row["text"], row["label"]) for row in support.read_tsv("confirmation_tr.tsv")]


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=10)
    return raised.value


def wait_for_job(training_stub, job_id: str) -> training_pb2.Job:
    updates = training_stub.WatchJob(training_pb2.WatchJobRequest(job_id=job_id), timeout=120)
    return list(updates)[-1].job


def test_list_models_is_newest_first_and_paginated(models_stub, algorithm_services, turkish_rows):
    published = [algorithm_services.publish_model(turkish_rows, activate=False) for _ in range(3)]
    first = models_stub.ListModels(models_pb2.ListModelsRequest(page_size=2), timeout=10)
    assert first.total_size >= 3
    assert [m.model_id for m in first.models] == published[::-1][:2]
    second = models_stub.ListModels(
        models_pb2.ListModelsRequest(page_size=2, page_token=first.next_page_token), timeout=10
    )
    assert second.models[0].model_id == published[0]
    times = [m.create_time.ToDatetime() for m in (*first.models, *second.models)]
    assert times == sorted(times, reverse=True)
    error = rpc_error(models_stub.ListModels, models_pb2.ListModelsRequest(page_token="x"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_get_model_returns_its_record(models_stub, served_model_id, sms_rows):
    model = models_stub.GetModel(
        models_pb2.GetModelRequest(model_id=served_model_id), timeout=10
    ).model
    assert model.model_id == served_model_id
    assert model.algorithm == "linear_svm"
    assert list(model.labels) == ["ham", "spam"]
    assert model.row_count == len(sms_rows)
    assert model.metrics.accuracy >= 0.95
    assert model.library_versions["scikit-learn"]
    assert dict(model.parameters) == {"C": 1.0, "ngram_max": 1.0}


# Fixed, so that every pytest-xdist worker collects the same test ids.
UNKNOWN_ID = "0c9a7e51-3d2b-4e8f-9a16-5b4c3d2e1f00"


@pytest.mark.parametrize(
    ("model_id", "code"),
    [(UNKNOWN_ID, grpc.StatusCode.NOT_FOUND), ("../etc", grpc.StatusCode.INVALID_ARGUMENT)],
)
def test_unknown_or_malformed_model_ids(models_stub, algorithm_services, model_id, code):
    for call, request in (
        (models_stub.GetModel, models_pb2.GetModelRequest(model_id=model_id)),
        (models_stub.ActivateModel, models_pb2.ActivateModelRequest(model_id=model_id)),
        (models_stub.DeleteModel, models_pb2.DeleteModelRequest(model_id=model_id)),
        (models_stub.EvaluateModel, models_pb2.EvaluateModelRequest(model_id=model_id)),
        (models_stub.ListMetricRecords, models_pb2.ListMetricRecordsRequest(model_id=model_id)),
        (models_stub.GetLiveAccuracy, models_pb2.GetLiveAccuracyRequest(model_id=model_id)),
    ):
        assert rpc_error(call, request).code() == code


def test_rollback_and_forward_under_load_fail_no_request(
    models_stub, prediction_stub, algorithm_services, sms_rows, turkish_rows
):
    older = algorithm_services.publish_model(sms_rows, activate=True)
    newer = algorithm_services.publish_model(turkish_rows, activate=False)
    support.wait_until(
        lambda: (
            prediction_stub.Predict(prediction_pb2.PredictRequest(text="hi"), timeout=5).model_id
            == older
        ),
        2,
        "the older model being served",
    )
    failures, answered_by = [], set()
    stop = threading.Event()

    def predict_forever():
        while not stop.is_set():
            try:
                reply = prediction_stub.Predict(
                    prediction_pb2.PredictRequest(text="evet, free prize"), timeout=5
                )
                answered_by.add(reply.model_id)
            except grpc.RpcError as error:
                failures.append(error.code())

    threads = [threading.Thread(target=predict_forever) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for model_id in (newer, older, newer):
            started = time.monotonic()
            reply = models_stub.ActivateModel(
                models_pb2.ActivateModelRequest(model_id=model_id), timeout=10
            )
            assert reply.model.active
            support.wait_until(
                lambda model_id=model_id: (
                    prediction_stub.Predict(
                        prediction_pb2.PredictRequest(text="hi"), timeout=5
                    ).model_id
                    == model_id
                ),
                1,
                f"{model_id} being served",
                interval=0.02,
            )
            assert time.monotonic() - started < 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert {older, newer} <= answered_by


def test_the_active_model_cannot_be_deleted(models_stub, algorithm_services, turkish_rows):
    model_id = algorithm_services.publish_model(turkish_rows, activate=True)
    error = rpc_error(models_stub.DeleteModel, models_pb2.DeleteModelRequest(model_id=model_id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == (
        f"Model {model_id} is the active version: activate another version first, "
        "then delete this one."
    )
    assert algorithm_services.store.exists(model_id)


def test_activating_a_tampered_version_is_refused_and_the_old_one_keeps_serving(
    models_stub, prediction_stub, algorithm_services, turkish_rows, active_model_id
):
    tampered = algorithm_services.publish_model(turkish_rows, activate=False)
    manifest = algorithm_services.store.path(tampered) / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"linear_svm"', '"naive_bayes"'))
    error = rpc_error(models_stub.ActivateModel, models_pb2.ActivateModelRequest(model_id=tampered))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "failed its integrity checks" in error.details()
    reply = prediction_stub.Predict(prediction_pb2.PredictRequest(text="hi"), timeout=5)
    assert reply.model_id == active_model_id


def test_evaluate_on_the_data_table_fills_a_metric_record(
    models_stub, training_stub, algorithm_services, served_model_id, sms_rows
):
    algorithm_services.replace_data(sms_rows)
    reply = models_stub.EvaluateModel(
        models_pb2.EvaluateModelRequest(model_id=served_model_id), timeout=10
    )
    assert reply.job.kind == training_pb2.JOB_KIND_EVALUATE
    assert reply.job.metric_id == reply.metric_record.metric_id
    assert reply.metric_record.source == models_pb2.EVALUATION_SOURCE_DATA_TABLE
    assert reply.metric_record.state == training_pb2.JOB_STATE_QUEUED
    job = wait_for_job(training_stub, reply.job.job_id)
    assert job.state == training_pb2.JOB_STATE_SUCCEEDED, job.error
    record = models_stub.GetMetricRecord(
        models_pb2.GetMetricRecordRequest(metric_id=reply.metric_record.metric_id), timeout=10
    ).metric_record
    assert record.state == training_pb2.JOB_STATE_SUCCEEDED
    assert record.row_count == len(sms_rows)
    # Mostly rows it was trained on: near perfect, and the matrix adds up to every row.
    assert record.metrics.accuracy >= 0.97
    matrix = record.metrics.confusion_matrix
    assert list(matrix.labels) == ["ham", "spam"]
    assert sum(sum(row.counts) for row in matrix.rows) == len(sms_rows)
    assert (
        matrix.rows[1].counts[1]
        == record.metrics.per_label["spam"].support - matrix.rows[1].counts[0]
    )


def test_evaluate_on_uploaded_rows_then_list_and_delete_the_record(
    models_stub, training_stub, served_model_id
):
    rows = [
        models_pb2.LabelledText(text="WINNER! free cash prize, call now", label="spam"),
        models_pb2.LabelledText(text="are we meeting for lunch?", label="ham"),
        models_pb2.LabelledText(text="ok", label="maybe"),
    ]
    reply = models_stub.EvaluateModel(
        models_pb2.EvaluateModelRequest(model_id=served_model_id, rows=rows), timeout=10
    )
    assert reply.metric_record.source == models_pb2.EVALUATION_SOURCE_UPLOAD
    job = wait_for_job(training_stub, reply.job.job_id)
    assert job.state == training_pb2.JOB_STATE_SUCCEEDED, job.error
    metric_id = reply.metric_record.metric_id
    listed = models_stub.ListMetricRecords(
        models_pb2.ListMetricRecordsRequest(model_id=served_model_id), timeout=10
    ).metric_records
    record = next(r for r in listed if r.metric_id == metric_id)
    assert record.row_count == 3
    # "maybe" is a label the model never learned: it counts, as a miss.
    assert list(record.metrics.confusion_matrix.labels) == ["ham", "maybe", "spam"]
    assert record.metrics.accuracy == pytest.approx(2 / 3)
    models_stub.DeleteMetricRecord(
        models_pb2.DeleteMetricRecordRequest(metric_id=metric_id), timeout=10
    )
    error = rpc_error(
        models_stub.GetMetricRecord, models_pb2.GetMetricRecordRequest(metric_id=metric_id)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([models_pb2.LabelledText(text="", label="spam")], "rows[0].text must not be empty."),
        (
            [models_pb2.LabelledText(text="hi", label=" ")],
            "rows[0].label must be a non-empty string.",
        ),
    ],
)
def test_evaluate_rejects_bad_rows(models_stub, served_model_id, rows, message):
    error = rpc_error(
        models_stub.EvaluateModel,
        models_pb2.EvaluateModelRequest(model_id=served_model_id, rows=rows),
    )
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)


def test_deleting_a_model_removes_its_files_record_and_metric_records(
    models_stub, training_stub, algorithm_services, turkish_rows
):
    model_id = algorithm_services.publish_model(turkish_rows, activate=False)
    rows = [models_pb2.LabelledText(text="evet", label="Confirmation_Yes")]
    evaluation = models_stub.EvaluateModel(
        models_pb2.EvaluateModelRequest(model_id=model_id, rows=rows), timeout=10
    )
    wait_for_job(training_stub, evaluation.job.job_id)
    reply = models_stub.DeleteModel(models_pb2.DeleteModelRequest(model_id=model_id), timeout=10)
    assert reply.model_id == model_id
    assert not algorithm_services.store.path(model_id).exists()
    for call, request in (
        (models_stub.GetModel, models_pb2.GetModelRequest(model_id=model_id)),
        (
            models_stub.GetMetricRecord,
            models_pb2.GetMetricRecordRequest(metric_id=evaluation.metric_record.metric_id),
        ),
    ):
        assert rpc_error(call, request).code() == grpc.StatusCode.NOT_FOUND
    listed = models_stub.ListModels(models_pb2.ListModelsRequest(page_size=1000), timeout=10)
    assert model_id not in {m.model_id for m in listed.models}


def test_retrain_uses_the_base_models_algorithm_and_parameters(
    training_stub, models_stub, algorithm_services, sms_rows
):
    algorithm_services.replace_data(sms_rows)
    first = training_stub.Train(
        training_pb2.TrainRequest(algorithm="logistic_regression"), timeout=10
    ).job
    first = wait_for_job(training_stub, first.job_id)
    request = training_pb2.TrainRequest(base_model_id=first.model_id)
    request.parameters.update({"C": 3.0})
    again = training_stub.Train(request, timeout=10).job
    assert again.algorithm == "logistic_regression"
    assert dict(again.parameters) == {"C": 3.0, "ngram_max": 1.0}
    done = wait_for_job(training_stub, again.job_id)
    assert done.state == training_pb2.JOB_STATE_SUCCEEDED
    assert done.model_id != first.model_id
    model = models_stub.GetModel(models_pb2.GetModelRequest(model_id=done.model_id), timeout=10)
    assert model.model.job_id == again.job_id
