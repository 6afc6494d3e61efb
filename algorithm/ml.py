"""The classifier itself: the ML team's algorithm, with the data loading left to the caller.

As in the original: TF-IDF features, a linear SVM giving class probabilities, a 75/25
hold-out split, accuracy, precision and recall. Unlike the original, the predicted label
is always the arg-max of the returned scores, and every random step has a fixed seed.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from algorithm.errors import InvalidArgument

SEED = 0
TEST_SIZE = 0.25
# A label needs rows on both sides of the hold-out split, and the SVM's probability
# calibration needs two of them in the training part.
MIN_ROWS_PER_LABEL = 3


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


@dataclass(frozen=True)
class Algorithm:
    name: str
    description: str
    build_classifier: Callable[[dict[str, Any], int], Any]
    parameters: tuple[Parameter, ...] = field(default=())


NGRAM_MAX = Parameter(
    "ngram_max", int, 1, 1, 3, "Longest word n-gram used as a feature (1 = single words)."
)


def _linear_svm(params: dict[str, Any], smallest_label_count: int) -> Any:
    svm = LinearSVC(C=params["C"], random_state=SEED)
    return CalibratedClassifierCV(svm, cv=min(5, smallest_label_count))


def _logistic_regression(params: dict[str, Any], _smallest_label_count: int) -> Any:
    return LogisticRegression(C=params["C"], max_iter=1000, random_state=SEED)


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm(
            "linear_svm",
            "TF-IDF features and a linear SVM with calibrated class probabilities "
            "(the ML team's algorithm). A strong default for short texts.",
            _linear_svm,
            (
                Parameter("C", float, 1.0, 1e-4, 1e4, "Inverse regularisation strength."),
                NGRAM_MAX,
            ),
        ),
        Algorithm(
            "logistic_regression",
            "TF-IDF features and multinomial logistic regression: well-calibrated "
            "probabilities out of the box.",
            _logistic_regression,
            (
                Parameter("C", float, 1.0, 1e-4, 1e4, "Inverse regularisation strength."),
                NGRAM_MAX,
            ),
        ),
    )
}
DEFAULT_ALGORITHM = "linear_svm"


def resolve_parameters(algorithm_name: str, parameters: dict[str, Any]) -> dict[str, Any]:
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
    resolved = {}
    for parameter in algorithm.parameters:
        value = parameters.get(parameter.name, parameter.default)
        resolved[parameter.name] = _coerce(parameter, value)
    return resolved


def _coerce(parameter: Parameter, value: Any) -> float | int:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if parameter.type is int and is_number and float(value).is_integer():
        value = int(value)
    elif parameter.type is float and is_number:
        value = float(value)
    else:
        raise InvalidArgument(
            f"Parameter {parameter.name!r} must be {parameter.type_name}, got {value!r}."
        )
    if not parameter.minimum <= value <= parameter.maximum:
        raise InvalidArgument(
            f"Parameter {parameter.name!r} must be between {parameter.minimum} and "
            f"{parameter.maximum}, got {value}."
        )
    return value


@dataclass
class TrainedModel:
    vectorizer: TfidfVectorizer
    classifier: Any
    metrics: dict[str, Any]

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self.classifier.classes_]


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    algorithm_name: str,
    parameters: dict[str, Any],
    on_stage: Callable[[str], None] = lambda stage: None,
) -> TrainedModel:
    """Fit the vectorizer and classifier on 75% of the rows and score them on the rest."""
    _check_trainable(labels)
    on_stage("training")
    algorithm = ALGORITHMS[algorithm_name]
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        list(texts), list(labels), test_size=TEST_SIZE, random_state=SEED, stratify=list(labels)
    )
    vectorizer = TfidfVectorizer(ngram_range=(1, parameters["ngram_max"]))
    features = vectorizer.fit_transform(train_texts)
    smallest = min(Counter(train_labels).values())
    classifier = algorithm.build_classifier(parameters, smallest)
    classifier.fit(features, train_labels)
    trained = TrainedModel(vectorizer, classifier, {})
    on_stage("evaluating")
    predicted = [label for label, _ in predict(trained.vectorizer, trained.classifier, test_texts)]
    trained.metrics = score(test_labels, predicted, trained.labels)
    trained.metrics["train_rows"] = len(train_texts)
    trained.metrics["test_rows"] = len(test_texts)
    return trained


def _check_trainable(labels: Sequence[str]) -> None:
    counts = Counter(labels)
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


def predict(vectorizer: Any, classifier: Any, texts: Sequence[str]) -> list[tuple[str, dict]]:
    """Return (label, scores) per text; the label is the arg-max of the scores."""
    probabilities = classifier.predict_proba(vectorizer.transform(texts))
    classes = [str(label) for label in classifier.classes_]
    best = np.argmax(probabilities, axis=1)
    return [
        (classes[index], dict(zip(classes, row.tolist(), strict=True)))
        for index, row in zip(best, probabilities, strict=True)
    ]


def score(true: Sequence[str], predicted: Sequence[str], labels: list[str]) -> dict[str, Any]:
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
