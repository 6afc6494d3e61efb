"""The classifier itself: the ML team's algorithm, with the data loading left to the caller.

As in the original: TF-IDF features, a linear SVM giving class probabilities, a 75/25
hold-out split, accuracy, precision and recall. Unlike the original, the predicted label
is always the arg-max of the returned scores, and every random step has a fixed seed.
Besides it, other algorithms to choose from (ALGORITHMS). Most learn from rows held in
memory (train); a streaming one learns from batches read one at a time (train_streaming),
so tables larger than the worker's memory can train.
"""

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC

from algorithm.domain.errors import InvalidArgument
from algorithm.domain.records import Metrics, Parameters, Scores

SEED = 0
TEST_SIZE = 0.25
# A label needs rows on both sides of the hold-out split, and the SVM's probability
# calibration needs two of them in the training part.
MIN_ROWS_PER_LABEL = 3
# The streamed split holds out one row in HOLD_OUT_EVERY of each label.
HOLD_OUT_EVERY = round(1 / TEST_SIZE)

# (text, label) rows, as the data table yields them.
Batch = Sequence[tuple[str, str]]
# Sees (vectorizer, classifier, held-out texts, their predictions): fast_scoring's check.
HoldOutObserver = Callable[[Any, Any, Sequence[str], list[tuple[str, dict[str, float]]]], None]


class TrainingDataError(ValueError):
    """The rows cannot train a model; the message says what to add."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: type
    default: float | int
    minimum: float | int
    maximum: float | int
    description: str

    @property
    def type_name(self) -> str:
        return "integer" if self.type is int else "float"


def _tfidf(params: Parameters) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, params["ngram_max"]))


@dataclass(frozen=True)
class Algorithm:
    name: str
    description: str
    build_classifier: Callable[[Parameters, int], Any]
    parameters: tuple[Parameter, ...] = field(default=())
    build_vectorizer: Callable[[Parameters], Any] = _tfidf
    # Trains with train_streaming: its vectorizer needs no fitting and its classifier
    # learns batch by batch (partial_fit), so the rows never need to be in memory at once.
    streaming: bool = False


INVERSE_REGULARISATION = Parameter("C", float, 1.0, 1e-4, 1e4, "Inverse regularisation strength.")
NGRAM_MAX = Parameter(
    "ngram_max", int, 1, 1, 3, "Longest word n-gram used as a feature (1 = single words)."
)


def _linear_svm(params: Parameters, smallest_label_count: int) -> Any:
    svm = LinearSVC(C=params["C"], random_state=SEED)
    return CalibratedClassifierCV(svm, cv=min(5, smallest_label_count), ensemble=False)


def _logistic_regression(params: Parameters, _smallest_label_count: int) -> Any:
    return LogisticRegression(C=params["C"], max_iter=1000, random_state=SEED)


def _naive_bayes(params: Parameters, _smallest_label_count: int) -> Any:
    return MultinomialNB(alpha=params["alpha"])


def _hashing(params: Parameters) -> HashingVectorizer:
    return HashingVectorizer(
        n_features=2 ** params["n_features_log2"], ngram_range=(1, params["ngram_max"])
    )


def _sgd(params: Parameters, _smallest_label_count: int) -> Any:
    return SGDClassifier(loss="log_loss", alpha=params["alpha"], random_state=SEED)


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm(
            "linear_svm",
            "TF-IDF features and a linear SVM with calibrated class probabilities "
            "(the ML team's algorithm). A strong default for short texts.",
            _linear_svm,
            (INVERSE_REGULARISATION, NGRAM_MAX),
        ),
        Algorithm(
            "logistic_regression",
            "TF-IDF features and multinomial logistic regression: well-calibrated "
            "probabilities out of the box.",
            _logistic_regression,
            (INVERSE_REGULARISATION, NGRAM_MAX),
        ),
        Algorithm(
            "naive_bayes",
            "TF-IDF features and multinomial naive Bayes: the fastest to train, a classic "
            "baseline for spam filtering.",
            _naive_bayes,
            (
                # 0.1 rather than scikit-learn's 1.0: on TF-IDF features 1.0 smooths so much
                # that spam recall drops (on the SMS hold-out, 0.65 instead of 0.86).
                Parameter("alpha", float, 0.1, 1e-4, 10.0, "Additive (Laplace) smoothing."),
                NGRAM_MAX,
            ),
        ),
        Algorithm(
            "sgd_hashing",
            "Hashed word features and logistic regression learned by stochastic gradient "
            "descent, in batches: memory stays bounded however large the data table is.",
            _sgd,
            (
                Parameter("alpha", float, 1e-4, 1e-7, 1e-1, "Regularisation strength."),
                Parameter(
                    "n_features_log2",
                    int,
                    18,
                    10,
                    22,
                    "Size of the hashed feature space, as a power of two; larger means fewer "
                    "collisions between words and a larger model.",
                ),
                NGRAM_MAX,
            ),
            build_vectorizer=_hashing,
            streaming=True,
        ),
    )
}
DEFAULT_ALGORITHM = "linear_svm"


def resolve_parameters(algorithm_name: str, parameters: Mapping[str, object]) -> Parameters:
    """Check the algorithm and its parameters; return the parameters with defaults filled in."""
    name = algorithm_name or DEFAULT_ALGORITHM
    algorithm = ALGORITHMS.get(name)
    if algorithm is None:
        known = ", ".join(ALGORITHMS)
        raise InvalidArgument(f"Unknown algorithm {name!r}; choose one of: {known}.")
    declared = {parameter.name: parameter for parameter in algorithm.parameters}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise InvalidArgument(
            f"Unknown parameter {unknown[0]!r} for algorithm {name!r}; "
            f"it accepts: {', '.join(declared)}."
        )
    resolved: Parameters = {}
    for parameter in algorithm.parameters:
        value = parameters.get(parameter.name, parameter.default)
        resolved[parameter.name] = _coerce(parameter, value)
    return resolved


def _coerce(parameter: Parameter, value: object) -> float | int:
    wrong_type = InvalidArgument(
        f"Parameter {parameter.name!r} must be {parameter.type_name}, got {value!r}."
    )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type
    if isinstance(value, int) and abs(value) > sys.float_info.max:  # float() fails
        raise InvalidArgument(
            f"Parameter {parameter.name!r} must be between {parameter.minimum} and "
            f"{parameter.maximum}, got a number beyond the range of a double."
        )
    number: float | int
    if parameter.type is int and float(value).is_integer():
        number = int(value)
    elif parameter.type is float:
        number = float(value)
    else:
        raise wrong_type
    if not parameter.minimum <= number <= parameter.maximum:
        raise InvalidArgument(
            f"Parameter {parameter.name!r} must be between {parameter.minimum} and "
            f"{parameter.maximum}, got {number}."
        )
    return number


@dataclass
class TrainedModel:
    vectorizer: Any
    classifier: Any
    metrics: Metrics
    # The hold-out's true and predicted labels, so the new model can be monitored at once.
    hold_out_true: list[str] = field(default_factory=list)
    hold_out_predicted: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self.classifier.classes_]


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    algorithm_name: str,
    parameters: Parameters,
    on_stage: Callable[[str], None] = lambda stage: None,
    on_hold_out: HoldOutObserver = lambda *_: None,
) -> TrainedModel:
    """Fit the vectorizer and classifier on 75% of the rows and score them on the rest."""
    _check_trainable(Counter(labels))
    on_stage("training")
    algorithm = ALGORITHMS[algorithm_name]
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        list(texts), list(labels), test_size=TEST_SIZE, random_state=SEED, stratify=list(labels)
    )
    vectorizer = algorithm.build_vectorizer(parameters)
    features = vectorizer.fit_transform(train_texts)
    smallest = min(Counter(train_labels).values())
    classifier = algorithm.build_classifier(parameters, smallest)
    classifier.fit(features, train_labels)
    on_stage("evaluating")
    predictions = predict(vectorizer, classifier, test_texts)
    on_hold_out(vectorizer, classifier, test_texts, predictions)
    predicted = [label for label, _ in predictions]
    metrics = _hold_out_metrics(test_labels, predicted, class_labels(classifier), len(train_texts))
    return TrainedModel(vectorizer, classifier, metrics, list(test_labels), predicted)


def train_streaming(
    read_batches: Callable[[], Iterable[Batch]],
    label_counts: Mapping[str, int],
    algorithm_name: str,
    parameters: Parameters,
    on_stage: Callable[[str], None] = lambda stage: None,
    on_hold_out: HoldOutObserver = lambda *_: None,
) -> TrainedModel:
    """Train a streaming algorithm holding one batch of rows at a time.

    label_counts are the rows per label, checked before anything is read, since partial_fit
    needs every label upfront. Each read_batches() call must yield the same rows in the same
    order: one pass trains on the training side of the hold-out split, and a second pass
    scores the finished model on the test side. A single training pass, because streaming is
    for large tables, where one pass already makes plenty of gradient steps and each further
    one reads the whole table again; on the SMS set, at the default alpha, 2 to 5 passes
    moved accuracy by less than 0.2 points.
    """
    _check_trainable(label_counts)
    algorithm = ALGORITHMS[algorithm_name]
    vectorizer = algorithm.build_vectorizer(parameters)
    classifier = algorithm.build_classifier(parameters, min(label_counts.values()))
    classes = sorted(label_counts)
    on_stage("training")
    train_rows = _learn_training_side(vectorizer, classifier, classes, read_batches())
    on_stage("evaluating")
    true, predicted = _predict_test_side(vectorizer, classifier, read_batches(), on_hold_out)
    metrics = _hold_out_metrics(true, predicted, classes, train_rows)
    return TrainedModel(vectorizer, classifier, metrics, list(true), predicted)


def _learn_training_side(
    vectorizer: Any, classifier: Any, classes: list[str], batches: Iterable[Batch]
) -> int:
    """partial_fit on the training side of each batch; return how many rows it learned from."""
    train_rows = 0
    for train_side, _ in _hold_out_split(batches):
        if train_side:
            texts, labels = zip(*train_side, strict=True)
            classifier.partial_fit(vectorizer.transform(texts), labels, classes=classes)
            train_rows += len(texts)
    return train_rows


def _predict_test_side(
    vectorizer: Any, classifier: Any, batches: Iterable[Batch], on_hold_out: HoldOutObserver
) -> tuple[list[str], list[str]]:
    """The true and the predicted label of every test row."""
    # Only labels are kept. Each row read brings its own copy of its label string:
    # interned, a test row costs one pointer (predicted labels are shared already).
    true: list[str] = []
    predicted: list[str] = []
    for _, test_side in _hold_out_split(batches):
        if test_side:
            texts, labels = zip(*test_side, strict=True)
            true.extend(sys.intern(label) for label in labels)
            predictions = predict(vectorizer, classifier, texts)
            on_hold_out(vectorizer, classifier, texts, predictions)
            predicted.extend(label for label, _ in predictions)
    return true, predicted


def _hold_out_split(
    batches: Iterable[Batch],
) -> Iterator[tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    """Each batch as (training rows, test rows), deciding row by row as they stream by.

    The 2nd, 6th, 10th... row of each label is held out: deterministic for a given order,
    TEST_SIZE of every label like the in-memory stratified split, and a label's first row
    always trains (MIN_ROWS_PER_LABEL rows make 2 to train and 1 to test).
    """
    seen: Counter[str] = Counter()
    for batch in batches:
        train_side: list[tuple[str, str]] = []
        test_side: list[tuple[str, str]] = []
        for text, label in batch:
            side = test_side if seen[label] % HOLD_OUT_EVERY == 1 else train_side
            side.append((text, label))
            seen[label] += 1
        yield train_side, test_side


def _hold_out_metrics(
    true: Sequence[str], predicted: Sequence[str], labels: list[str], train_rows: int
) -> Metrics:
    scores = score(true, predicted, labels)
    return {
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "per_label": scores["per_label"],
        "train_rows": train_rows,
        "test_rows": len(true),
    }


def _check_trainable(counts: Mapping[str, int]) -> None:
    if len(counts) < 2:
        found = f"only {next(iter(counts))!r}" if counts else "no rows"
        raise TrainingDataError(
            f"Training needs at least two different labels in the data table; found {found}."
        )
    scarce = sorted(label for label, count in counts.items() if count < MIN_ROWS_PER_LABEL)
    if scarce:
        raise TrainingDataError(
            f"Every label needs at least {MIN_ROWS_PER_LABEL} rows (some to train on, some to "
            f"test with); add rows for: {', '.join(repr(label) for label in scarce[:10])}."
        )


def class_labels(classifier: Any) -> list[str]:
    """The labels in the order of the classifier's probability columns."""
    return [str(label) for label in classifier.classes_]


def predict(
    vectorizer: Any, classifier: Any, texts: Sequence[str]
) -> list[tuple[str, dict[str, float]]]:
    """Return (label, scores) per text; the label is the arg-max of the scores."""
    # scikit-learn's checks on every call (finite values, parameter types) cost up to a third
    # of a one-text prediction; here they only see the fitted estimators and vectorizer output.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        probabilities = classifier.predict_proba(vectorizer.transform(texts))
    classes = class_labels(classifier)
    best = np.argmax(probabilities, axis=1)
    return [
        (classes[index], dict(zip(classes, row.tolist(), strict=True)))
        for index, row in zip(best, probabilities, strict=True)
    ]


def score(true: Sequence[str], predicted: Sequence[str], labels: list[str]) -> Scores:
    """Accuracy, macro F1 and per-label precision, recall, F1 and support."""
    precision, recall, f1, support = precision_recall_fscore_support(
        true, predicted, labels=labels, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(
            f1_score(true, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "per_label": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
    }
