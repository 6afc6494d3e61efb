"""The algorithms beside the ML team's, trained by the real worker from the data table: the
streaming one (sgd_hashing, read in batches from one snapshot) and naive_bayes; and the
stream itself."""

from collections import Counter

import grpc
import pytest

from algorithm.domain import datasource
from algorithm.v1 import prediction_pb2, training_pb2
from common import settings as common_settings

pytestmark = pytest.mark.slow

# Every algorithm reaches it on the SMS hold-out (see tests/algorithm/test_algorithms.py).
ACCURACY_FLOOR = 0.95


def _train_and_watch(stub, algorithm: str) -> list[training_pb2.Job]:
    job = stub.Train(training_pb2.TrainRequest(algorithm=algorithm), timeout=5).job
    request = training_pb2.WatchJobRequest(job_id=job.job_id)
    return [update.job for update in stub.WatchJob(request, timeout=120)]


def test_every_pass_of_a_stream_reads_the_same_snapshot_in_the_same_mixed_order(
    algorithm_services, monkeypatch
):
    monkeypatch.setattr(common_settings, "DATABASE_URL", algorithm_services.env["DATABASE_URL"])
    monkeypatch.setattr(datasource, "BATCH_ROWS", 100)
    rows = [(f"ham {i}", "ham") for i in range(300)] + [(f"spam {i}", "spam") for i in range(100)]
    algorithm_services.replace_data(rows)
    progress = []
    with datasource.open_labelled_stream(lambda *report: progress.append(report)) as stream:
        first = list(stream.batches())
        algorithm_services.insert_data([("written meanwhile", "eggs")] * 3)
        second = list(stream.batches())
    assert (stream.label_counts, stream.snapshot["rows"]) == ({"ham": 300, "spam": 100}, 400)
    assert second == first
    assert sorted(row for batch in first for row in batch) == sorted(rows)
    # Filled one label after the other, streamed mixed: every batch holds both labels.
    assert all(set(Counter(label for _, label in batch)) == {"ham", "spam"} for batch in first)
    passes = [(0, 400)] + [(100 * n, 400) for n in (1, 2, 3, 4)] * 2
    assert progress == passes
    with datasource.open_labelled_stream(lambda *report: None) as later:
        assert later.label_counts == {"eggs": 3, "ham": 300, "spam": 100}


def test_the_in_memory_read_gives_back_every_row_exactly_in_id_order(
    algorithm_services, monkeypatch
):
    monkeypatch.setattr(common_settings, "DATABASE_URL", algorithm_services.env["DATABASE_URL"])
    monkeypatch.setattr(datasource, "BATCH_ROWS", 3)
    rows = [
        ("a back\\slash, \\N and \\t as typed", "ham"),
        ("tab\there, new\nline, cr\r, \b\f\v", "spam"),
        ("İstanbul'da görüşürüz 🙂 ¿qué? 東京", "ham"),
        ("  spaces kept  ", "a\\label"),
        ("\\", "\t"),
        ("last", "ham"),
        ("one more than two batches", "spam"),
    ]
    algorithm_services.replace_data(rows)
    progress = []

    read = datasource.read_labelled_rows(lambda *report: progress.append(report))

    assert list(zip(read.texts, read.labels, strict=True)) == rows
    assert read.snapshot["rows"] == 7
    assert progress == [(0, 7), (3, 7), (6, 7), (7, 7)]


@pytest.mark.parametrize(
    ("algorithm", "parameters"),
    [
        ("sgd_hashing", {"alpha": 1e-4, "n_features_log2": 18.0, "ngram_max": 1.0}),
        ("naive_bayes", {"alpha": 0.1, "ngram_max": 1.0}),
    ],
)
def test_algorithm_trains_on_the_data_table_and_its_model_predicts(
    algorithm, parameters, training_stub, prediction_stub, algorithm_services, sms_rows
):
    # Every ham row, then every spam row, as a table filled one upload per label would be:
    # the stream must still mix them for SGD to learn both.
    algorithm_services.replace_data(sorted(sms_rows, key=lambda row: row[1]))
    updates = _train_and_watch(training_stub, algorithm)
    final = updates[-1]
    assert final.state == training_pb2.JOB_STATE_SUCCEEDED, final.error
    assert (final.algorithm, dict(final.parameters)) == (algorithm, parameters)
    assert final.rows_read == final.rows_total == len(sms_rows)
    assert final.metrics.accuracy >= ACCURACY_FLOOR
    assert (final.metrics.train_rows, final.metrics.test_rows) == (4_180, 1_394)
    assert {label: scores.support for label, scores in final.metrics.per_label.items()} == {
        "ham": 1_207,
        "spam": 187,
    }
    progress = [update.progress for update in updates]
    assert progress == sorted(progress)

    texts = ["WINNER!! Claim your free prize now, call 09061701461", "See you at lunch tomorrow"]
    reply = prediction_stub.PredictBatch(
        prediction_pb2.PredictBatchRequest(texts=texts, model_id=final.model_id), timeout=5
    )
    assert reply.model_id == final.model_id
    assert [prediction.label for prediction in reply.predictions] == ["spam", "ham"]
    for prediction in reply.predictions:
        assert set(prediction.scores) == {"ham", "spam"}
        assert sum(prediction.scores.values()) == pytest.approx(1.0)
        assert prediction.label == max(prediction.scores, key=prediction.scores.get)


def test_streaming_training_with_too_few_rows_of_a_label_fails_naming_it(
    training_stub, algorithm_services
):
    rows = [(f"ham {i}", "ham") for i in range(5)] + [("spam 1", "spam"), ("spam 2", "spam")]
    algorithm_services.replace_data(rows)
    final = _train_and_watch(training_stub, "sgd_hashing")[-1]
    assert final.state == training_pb2.JOB_STATE_FAILED
    assert final.error == (
        "Every label needs at least 3 rows (some to train on, some to test with); "
        "add rows for: 'spam'."
    )
    assert final.model_id == ""


def test_a_bad_streaming_parameter_is_refused_naming_it(training_stub, algorithm_services):
    request = training_pb2.TrainRequest(algorithm="sgd_hashing")
    request.parameters.update({"n_features_log2": 30})
    with pytest.raises(grpc.RpcError) as raised:
        training_stub.Train(request, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == (
        "Parameter 'n_features_log2' must be between 10 and 22, got 30."
    )
