"""Every algorithm in the registry: quality, determinism and the arg-max rule; and the
streaming path: its hold-out split, its data checks and its bounded memory."""

import tracemalloc
from collections import Counter

import pytest

from algorithm.domain import ml
from algorithm.domain.errors import InvalidArgument
from tests.algorithm.test_ml import PROBE_TEXTS
from tests.support import read_tsv

SMS_ROWS = [(row["text"], row["label"]) for row in read_tsv("sms_spam.tsv")]
# The SMS set with a third label, so the scores of more than two classes are checked too.
THREE_LABEL_ROWS = [
    (text, "question" if label == "ham" and "?" in text else label) for text, label in SMS_ROWS
]
BATCH_ROWS = 1_000


def batches_of(rows, size=BATCH_ROWS):
    """A read_batches for train_streaming: every call yields the rows again, in batches."""

    def read_batches():
        for start in range(0, len(rows), size):
            yield rows[start : start + size]

    return read_batches


def train(algorithm, rows, **parameters) -> ml.TrainedModel:
    """Train as the worker does: streamed in batches if the algorithm streams, else in memory."""
    resolved = ml.resolve_parameters(algorithm, parameters)
    if ml.ALGORITHMS[algorithm].streaming:
        counts = Counter(label for _, label in rows)
        return ml.train_streaming(batches_of(rows), counts, algorithm, resolved)
    texts, labels = [text for text, _ in rows], [label for _, label in rows]
    return ml.train(texts, labels, algorithm, resolved)


@pytest.fixture(scope="module", params=list(ml.ALGORITHMS))
def sms_model(request) -> ml.TrainedModel:
    return train(request.param, SMS_ROWS)


def test_four_algorithms_are_offered_and_only_sgd_hashing_streams():
    assert list(ml.ALGORITHMS) == [
        "linear_svm",
        "logistic_regression",
        "naive_bayes",
        "sgd_hashing",
    ]
    assert [name for name, algorithm in ml.ALGORITHMS.items() if algorithm.streaming] == [
        "sgd_hashing"
    ]
    assert ml.DEFAULT_ALGORITHM == "linear_svm"


def test_every_algorithm_reaches_the_quality_bar_on_the_sms_hold_out(sms_model):
    metrics = sms_model.metrics
    assert metrics["accuracy"] >= 0.95
    assert metrics["macro_f1"] >= 0.9
    # The streamed split holds out exactly as many rows of each label as the stratified one.
    assert (metrics["train_rows"], metrics["test_rows"]) == (4_180, 1_394)
    supports = {label: scores["support"] for label, scores in metrics["per_label"].items()}
    assert supports == {"ham": 1_207, "spam": 187}


def test_predicted_label_is_the_arg_max_of_scores_that_sum_to_one(sms_model):
    _assert_arg_max_of_scores_summing_to_one(sms_model, ["ham", "spam"])


@pytest.mark.parametrize("algorithm", list(ml.ALGORITHMS))
def test_with_three_labels_the_label_is_still_the_arg_max_of_scores_summing_to_one(algorithm):
    model = train(algorithm, THREE_LABEL_ROWS)
    _assert_arg_max_of_scores_summing_to_one(model, ["ham", "question", "spam"])


def _assert_arg_max_of_scores_summing_to_one(model, labels):
    assert model.labels == labels
    results = ml.predict(model.vectorizer, model.classifier, PROBE_TEXTS)
    assert len(results) == len(PROBE_TEXTS)
    for text, (label, scores) in zip(PROBE_TEXTS, results, strict=True):
        assert list(scores) == labels, text[:40]
        assert all(0.0 <= value <= 1.0 for value in scores.values()), text[:40]
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-9), text[:40]
        assert scores[label] == max(scores.values()), text[:40]


@pytest.mark.parametrize("algorithm", list(ml.ALGORITHMS))
def test_training_twice_on_the_same_rows_gives_identical_scores(algorithm):
    first = train(algorithm, SMS_ROWS[:600], ngram_max=2)
    second = train(algorithm, SMS_ROWS[:600], ngram_max=2)
    assert first.metrics == second.metrics
    assert ml.predict(first.vectorizer, first.classifier, PROBE_TEXTS) == ml.predict(
        second.vectorizer, second.classifier, PROBE_TEXTS
    )


# The streamed hold-out split


def test_streaming_holds_out_the_second_sixth_tenth_row_of_each_label():
    labels = ["a", "b", "b", "a", "b", "b", "b", "a", "b", "b", "b", "b"]
    rows = [(f"text {index} {label}", label) for index, label in enumerate(labels)]
    # The rows held out: a's 2nd (index 3); b's 2nd and 6th (indexes 2 and 8).
    model = train("sgd_hashing", rows)
    metrics = model.metrics
    assert (metrics["train_rows"], metrics["test_rows"]) == (9, 3)
    assert {label: scores["support"] for label, scores in metrics["per_label"].items()} == {
        "a": 1,
        "b": 2,
    }


@pytest.mark.parametrize("batch_rows", [100, 333, 10_000])
def test_the_streamed_split_does_not_depend_on_the_batch_size(batch_rows):
    parameters = ml.resolve_parameters("sgd_hashing", {})
    counts = Counter(label for _, label in SMS_ROWS)
    model = ml.train_streaming(batches_of(SMS_ROWS, batch_rows), counts, "sgd_hashing", parameters)
    assert (model.metrics["train_rows"], model.metrics["test_rows"]) == (4_180, 1_394)
    assert model.metrics["per_label"]["spam"]["support"] == 187


def test_three_rows_per_label_stream_two_to_train_and_one_to_test():
    rows = [("yes", "yes"), ("no", "no"), ("sure", "yes"), ("never", "no")]
    rows += [("ok", "yes"), ("nope", "no")]
    model = train("sgd_hashing", rows)
    assert model.labels == ["no", "yes"]
    assert (model.metrics["train_rows"], model.metrics["test_rows"]) == (4, 2)


# The streaming path's data checks: made on the label counts, before any row is read


def _no_batches():
    raise AssertionError("rows were read although the label counts cannot train")


@pytest.mark.parametrize(
    ("label_counts", "message"),
    [
        ({}, "Training needs at least two different labels in the data table; found no rows."),
        (
            {"ham": 10},
            "Training needs at least two different labels in the data table; found only 'ham'.",
        ),
        (
            {"ham": 5, "spam": 2, "eggs": 1, "ok": 3},
            "Every label needs at least 3 rows (some to train on, some to test with); "
            "add rows for: 'eggs', 'spam'.",
        ),
    ],
)
def test_streaming_refuses_untrainable_label_counts_before_reading(label_counts, message):
    parameters = ml.resolve_parameters("sgd_hashing", {})
    with pytest.raises(ml.TrainingDataError) as caught:
        ml.train_streaming(_no_batches, label_counts, "sgd_hashing", parameters)
    assert str(caught.value) == message


# Bounded memory: the streaming path holds one batch of rows, however many there are


class _CountedText(str):
    """A text that counts how many texts of its kind are alive."""

    alive = 0

    def __new__(cls, value):
        _CountedText.alive += 1
        return super().__new__(cls, value)

    def __del__(self):
        _CountedText.alive -= 1


def _generated(rows: int, text=str):
    """read_batches of `rows` short spam and ham texts made on the fly, and their label counts."""

    def read_batches():
        for start in range(0, rows, BATCH_ROWS):
            yield [
                (text(f"win a free prize {i}"), "spam")
                if i % 3 == 0
                else (text(f"see you at lunch {i}"), "ham")
                for i in range(start, min(rows, start + BATCH_ROWS))
            ]

    spam = (rows + 2) // 3
    return read_batches, {"spam": spam, "ham": rows - spam}


def test_streaming_never_holds_more_than_the_batch_it_learns_from_and_the_next():
    read_batches, counts = _generated(50_000, _CountedText)
    most_alive = 0

    def watched_batches():
        nonlocal most_alive
        for batch in read_batches():
            # Counted as the batch is handed over: the consumer may still hold the last one.
            most_alive = max(most_alive, _CountedText.alive)
            yield batch

    parameters = ml.resolve_parameters("sgd_hashing", {})
    model = ml.train_streaming(watched_batches, counts, "sgd_hashing", parameters)
    assert model.metrics["train_rows"] + model.metrics["test_rows"] == 50_000
    assert most_alive <= 2 * BATCH_ROWS
    assert _CountedText.alive == 0


def test_streaming_peak_memory_grows_by_bytes_not_rows_with_five_times_the_rows():
    parameters = ml.resolve_parameters("sgd_hashing", {})
    ml.train_streaming(*_generated(2_000), "sgd_hashing", parameters)  # imports, caches

    def peak_bytes(rows: int) -> int:
        tracemalloc.start()
        try:
            ml.train_streaming(*_generated(rows), "sgd_hashing", parameters)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak_bytes(5_000), peak_bytes(25_000)
    # Only the test side's labels grow with the rows: a pointer each while streaming, a
    # few bytes more in scikit-learn's arrays while scoring (measured: 12 bytes a row).
    # Handing train_streaming all rows in one batch measures 280 bytes a row.
    assert (large - small) / 20_000 < 50, (small, large)


# Parameters of the algorithms beside the ML team's


def test_defaults_are_filled_in_for_naive_bayes_and_sgd_hashing():
    assert ml.resolve_parameters("naive_bayes", {}) == {"alpha": 0.1, "ngram_max": 1}
    assert ml.resolve_parameters("sgd_hashing", {"n_features_log2": 20.0}) == {
        "alpha": 1e-4,
        "n_features_log2": 20,
        "ngram_max": 1,
    }


def test_unknown_algorithm_is_refused_naming_every_choice():
    with pytest.raises(InvalidArgument) as caught:
        ml.resolve_parameters("random_forest", {})
    assert caught.value.message == (
        "Unknown algorithm 'random_forest'; choose one of: "
        "linear_svm, logistic_regression, naive_bayes, sgd_hashing."
    )


@pytest.mark.parametrize(
    ("algorithm", "parameters", "message"),
    [
        (
            "naive_bayes",
            {"C": 1.0},
            "Unknown parameter 'C' for algorithm 'naive_bayes'; it accepts: alpha, ngram_max.",
        ),
        (
            "sgd_hashing",
            {"n_features": 1024},
            "Unknown parameter 'n_features' for algorithm 'sgd_hashing'; "
            "it accepts: alpha, n_features_log2, ngram_max.",
        ),
        (
            "naive_bayes",
            {"alpha": 0},
            "Parameter 'alpha' must be between 0.0001 and 10.0, got 0.0.",
        ),
        ("naive_bayes", {"alpha": "1"}, "Parameter 'alpha' must be float, got '1'."),
        (
            "sgd_hashing",
            {"alpha": 0.5},
            "Parameter 'alpha' must be between 1e-07 and 0.1, got 0.5.",
        ),
        (
            "sgd_hashing",
            {"n_features_log2": 23},
            "Parameter 'n_features_log2' must be between 10 and 22, got 23.",
        ),
        (
            "sgd_hashing",
            {"n_features_log2": 9},
            "Parameter 'n_features_log2' must be between 10 and 22, got 9.",
        ),
        (
            "sgd_hashing",
            {"n_features_log2": 18.5},
            "Parameter 'n_features_log2' must be integer, got 18.5.",
        ),
        ("sgd_hashing", {"ngram_max": 4}, "Parameter 'ngram_max' must be between 1 and 3, got 4."),
    ],
)
def test_bad_parameters_are_refused_naming_them(algorithm, parameters, message):
    with pytest.raises(InvalidArgument) as caught:
        ml.resolve_parameters(algorithm, parameters)
    assert caught.value.message == message
