"""The classifier: training quality, prediction invariants, data checks and parameter checks."""

import math

import pytest

from algorithm.domain import ml
from algorithm.domain.errors import InvalidArgument
from tests.support import read_tsv

SMS_ROWS = read_tsv("sms_spam.tsv")
TURKISH_ROWS = read_tsv("confirmation_tr.tsv")

PROBE_TEXTS = [
    "",
    " ",
    "\n\t",
    ".",
    "!!!",
    "0",
    "a",
    "FREE entry in 2 a wkly comp to win FA Cup final tkts",
    "Ok lar... Joking wif u oni...",
    "Call 09061701461 now to claim your £900 prize!",
    "olur",
    "hayır",
    "ıİğĞüÜşŞöÖçÇ",
    "日本語のテキスト",
    "مرحبا بالعالم",
    "😀🎉🔥 emoji only 💯",
    "\u200b\u200d\ufeff",
    "\x00\x01\x02",
    "a" * 20_000,
    "free win prize " * 2_000,
    " ".join(f"word{i}" for i in range(3_000)),
    *(row["text"] for row in SMS_ROWS[:200]),
    *(row["text"] for row in TURKISH_ROWS),
]


def _columns(rows):
    return [row["text"] for row in rows], [row["label"] for row in rows]


@pytest.fixture(scope="module", params=[ml.DEFAULT_ALGORITHM, "logistic_regression"])
def sms_model(request) -> ml.TrainedModel:
    texts, labels = _columns(SMS_ROWS)
    return ml.train(texts, labels, request.param, ml.resolve_parameters(request.param, {}))


def test_sms_data_has_the_expected_shape():
    assert len(SMS_ROWS) == 5_574
    assert {row["label"] for row in SMS_ROWS} == {"ham", "spam"}


def test_sms_model_reaches_the_quality_bar_on_its_hold_out(sms_model):
    metrics = sms_model.metrics
    assert metrics["accuracy"] >= 0.95
    assert metrics["macro_f1"] >= 0.9
    assert metrics["train_rows"] + metrics["test_rows"] == 5_574
    assert metrics["test_rows"] == math.ceil(5_574 * ml.TEST_SIZE)
    assert set(metrics["per_label"]) == {"ham", "spam"}
    assert sum(label["support"] for label in metrics["per_label"].values()) == 1_394


def test_turkish_example_trains_on_seven_rows_and_tests_on_three():
    texts, labels = _columns(TURKISH_ROWS)
    stages = []
    model = ml.train(
        texts,
        labels,
        ml.DEFAULT_ALGORITHM,
        ml.resolve_parameters("", {}),
        on_stage=stages.append,
    )
    assert model.metrics["train_rows"] == 7
    assert model.metrics["test_rows"] == 3
    assert model.labels == ["Confirmation_No", "Confirmation_Yes"]
    assert set(model.metrics["per_label"]) == {"Confirmation_No", "Confirmation_Yes"}
    assert stages == ["training", "evaluating"]


def test_predicted_label_is_the_arg_max_of_scores_that_sum_to_one(sms_model):
    results = ml.predict(sms_model.vectorizer, sms_model.classifier, PROBE_TEXTS)
    assert len(results) == len(PROBE_TEXTS)
    for text, (label, scores) in zip(PROBE_TEXTS, results, strict=True):
        assert list(scores) == sms_model.labels, text[:40]
        assert all(0.0 <= value <= 1.0 for value in scores.values()), text[:40]
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-9), text[:40]
        assert scores[label] == max(scores.values()), text[:40]


def test_prediction_invariants_hold_on_the_turkish_model(tiny_model):
    results = ml.predict(tiny_model.vectorizer, tiny_model.classifier, PROBE_TEXTS)
    for text, (label, scores) in zip(PROBE_TEXTS, results, strict=True):
        assert set(scores) == {"Confirmation_No", "Confirmation_Yes"}, text[:40]
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-9), text[:40]
        assert scores[label] == max(scores.values()), text[:40]


@pytest.mark.parametrize("algorithm", [ml.DEFAULT_ALGORITHM, "logistic_regression"])
def test_training_twice_on_the_same_rows_gives_identical_scores(algorithm):
    texts, labels = _columns(SMS_ROWS[:600])
    parameters = ml.resolve_parameters(algorithm, {"ngram_max": 2})
    first = ml.train(texts, labels, algorithm, parameters)
    second = ml.train(texts, labels, algorithm, parameters)
    assert first.metrics == second.metrics
    assert ml.predict(first.vectorizer, first.classifier, PROBE_TEXTS) == ml.predict(
        second.vectorizer, second.classifier, PROBE_TEXTS
    )


def test_one_label_only_is_refused_naming_the_label():
    with pytest.raises(ml.TrainingDataError) as caught:
        ml.train(["a", "b", "c", "d"], ["ham"] * 4, ml.DEFAULT_ALGORITHM, {"C": 1.0})
    assert str(caught.value) == (
        "Training needs at least two different labels in the data table; found only 'ham'."
    )


def test_no_rows_are_refused():
    with pytest.raises(ml.TrainingDataError) as caught:
        ml.train([], [], ml.DEFAULT_ALGORITHM, {"C": 1.0})
    assert str(caught.value) == (
        "Training needs at least two different labels in the data table; found no rows."
    )


def test_labels_with_fewer_than_three_rows_are_refused_naming_them():
    labels = ["ham"] * 5 + ["spam"] * 2 + ["eggs"] * 1 + ["ok"] * 3
    with pytest.raises(ml.TrainingDataError) as caught:
        ml.train([f"text {i}" for i in range(len(labels))], labels, "linear_svm", {"C": 1.0})
    assert str(caught.value) == (
        "Every label needs at least 3 rows (some to train on, some to test with); "
        "add rows for: 'eggs', 'spam'."
    )


def test_three_rows_per_label_is_enough():
    texts = ["yes", "sure", "ok", "no", "never", "nope"]
    labels = ["yes"] * 3 + ["no"] * 3
    model = ml.train(texts, labels, "linear_svm", ml.resolve_parameters("linear_svm", {}))
    assert model.labels == ["no", "yes"]
    assert model.metrics["train_rows"] + model.metrics["test_rows"] == 6


# resolve_parameters


def test_defaults_are_filled_in_for_the_default_algorithm():
    assert ml.resolve_parameters("", {}) == {"C": 1.0, "ngram_max": 1}
    assert ml.resolve_parameters("linear_svm", {}) == {"C": 1.0, "ngram_max": 1}
    assert ml.resolve_parameters("logistic_regression", {"C": 3}) == {"C": 3.0, "ngram_max": 1}


def test_integral_float_is_accepted_for_an_integer_parameter():
    resolved = ml.resolve_parameters("linear_svm", {"ngram_max": 2.0, "C": 2})
    assert resolved == {"C": 2.0, "ngram_max": 2}
    assert type(resolved["ngram_max"]) is int
    assert type(resolved["C"]) is float


@pytest.mark.parametrize("value", [1e-4, 1e4])
def test_range_bounds_are_inclusive(value):
    assert ml.resolve_parameters("linear_svm", {"C": value})["C"] == value


def test_unknown_algorithm_is_refused_naming_it_and_the_choices():
    with pytest.raises(InvalidArgument) as caught:
        ml.resolve_parameters("random_forest", {})
    assert caught.value.message == (
        "Unknown algorithm 'random_forest'; choose one of: linear_svm, logistic_regression, "
        "naive_bayes, sgd_hashing."
    )


def test_unknown_parameter_is_refused_naming_it():
    with pytest.raises(InvalidArgument) as caught:
        ml.resolve_parameters("linear_svm", {"C": 1.0, "gamma": 0.1, "alpha": 2})
    assert caught.value.message == (
        "Unknown parameter 'alpha' for algorithm 'linear_svm'; it accepts: C, ngram_max."
    )


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ngram_max": 4}, "Parameter 'ngram_max' must be between 1 and 3, got 4."),
        ({"ngram_max": 0}, "Parameter 'ngram_max' must be between 1 and 3, got 0."),
        ({"C": 0}, "Parameter 'C' must be between 0.0001 and 10000.0, got 0.0."),
        ({"C": -1.0}, "Parameter 'C' must be between 0.0001 and 10000.0, got -1.0."),
        ({"C": 1e5}, "Parameter 'C' must be between 0.0001 and 10000.0, got 100000.0."),
        ({"C": math.inf}, "Parameter 'C' must be between 0.0001 and 10000.0, got inf."),
        ({"C": math.nan}, "Parameter 'C' must be between 0.0001 and 10000.0, got nan."),
    ],
)
def test_out_of_range_value_is_refused_naming_the_parameter(parameters, message):
    with pytest.raises(InvalidArgument) as caught:
        ml.resolve_parameters("linear_svm", parameters)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ngram_max": "2"}, "Parameter 'ngram_max' must be integer, got '2'."),
        ({"ngram_max": True}, "Parameter 'ngram_max' must be integer, got True."),
        ({"ngram_max": 1.5}, "Parameter 'ngram_max' must be integer, got 1.5."),
        ({"ngram_max": None}, "Parameter 'ngram_max' must be integer, got None."),
        ({"C": "1.0"}, "Parameter 'C' must be float, got '1.0'."),
        ({"C": False}, "Parameter 'C' must be float, got False."),
        ({"C": [1.0]}, "Parameter 'C' must be float, got [1.0]."),
    ],
)
def test_wrong_type_is_refused_naming_the_parameter(parameters, message):
    with pytest.raises(InvalidArgument) as caught:
        ml.resolve_parameters("logistic_regression", parameters)
    assert caught.value.message == message


# score


def test_score_gives_exact_per_label_precision_and_recall():
    true = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    metrics = ml.score(true, predicted, ["a", "b", "c", "d"])
    # a: 2 of 2 predicted right, 2 of 3 found; b: 1 of 2, 1 of 2; c: 1 of 2, 1 of 1; d: unseen.
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    per_label = metrics["per_label"]
    assert list(per_label) == ["a", "b", "c", "d"]
    assert per_label["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert per_label["b"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert per_label["c"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert per_label["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert metrics["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3 + 0.0) / 4)
    assert all(type(value) is int for value in (v["support"] for v in per_label.values()))
    assert type(metrics["accuracy"]) is float


def test_score_of_a_perfect_prediction_is_one_everywhere():
    metrics = ml.score(["x", "y", "y"], ["x", "y", "y"], ["x", "y"])
    assert metrics["accuracy"] == 1.0
    assert metrics["macro_f1"] == 1.0
    assert metrics["per_label"] == {
        "x": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
        "y": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2},
    }
