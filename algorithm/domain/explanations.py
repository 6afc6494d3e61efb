"""Explanations: which terms of a text moved a linear model's decision, and by how much, exactly.

Every algorithm of ml.ALGORITHMS decides by a linear function of the text's features: for a
label, intercept + sum over the features of weight x value. LogisticRegression, SGDClassifier
and the LinearSVC inside CalibratedClassifierCV have it as their decision_function;
MultinomialNB as its joint log-likelihood (feature_log_prob_ . x + class_log_prior_), whose
soft-max are its probabilities. Each term's contribution is its weight times its value, so
intercept + the contributions is the decision value itself, not an approximation.

With two labels a model has one decision function, positive for its second class (the naive
Bayes one is the log-odds of the two joint log-likelihoods): the predicted label's decision
is that function signed towards it, and the runner-up's its negation. With more labels each
has its own. The calibration maps decisions to probabilities afterwards and is not taken
apart: the label with the higher decision is not always the one with the higher probability,
and the answer names the labels by their scores, as the prediction does.

The features are those of the runtime that served the prediction: the fast scorer's own
columns, values, weights and intercepts (fast_scoring.FastScorer), or scikit-learn's
(vectorizer.transform, coef_ and intercept_), so that an explanation never describes a
computation other than the one that answered. A version whose model is not one of these
linear forms is answered with why, in a sentence, instead of a guess.
"""

import collections
import itertools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC

from algorithm import settings
from algorithm.domain import fast_scoring, ml
from algorithm.domain.records import Explanation, LabelExplanation
from algorithm.domain.store import LoadedModel

# A text's non-zero features: their columns and values.
Features = tuple[NDArray[np.intp], NDArray[np.float64]]
_NO_FEATURES: Features = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64))
# The linear models whose coef_ and intercept_ make their decision function.
_LINEAR = (LogisticRegression, SGDClassifier, LinearSVC)


@dataclass(frozen=True)
class Explainer:
    """A version's decision taken apart, by the runtime that serves it."""

    runtime: str
    classes: list[str]
    features: Callable[[Sequence[str]], list[Features]]
    # One row per label, or, for two labels, one row: the second label's decision function.
    weights: NDArray[np.float64]
    intercept: NDArray[np.float64]
    term: Callable[[int], str]

    def explain(
        self, texts: Sequence[str], predictions: Sequence[fast_scoring.Prediction], top: int
    ) -> list[Explanation]:
        """Each prediction's explanation: its label's and its runner-up's decisions, with the
        `top` terms of each by absolute contribution and the rest summed."""
        explained: list[Explanation] = []
        for features, (label, scores) in zip(self.features(texts), predictions, strict=True):
            runner_up = max(
                (name for name in self.classes if name != label), key=scores.__getitem__
            )
            explained.append(
                {
                    "runtime": self.runtime,
                    "predicted": self._label(label, features, top),
                    "runner_up": self._label(runner_up, features, top),
                    "unavailable": None,
                }
            )
        return explained

    def _label(self, label: str, features: Features, top: int) -> LabelExplanation:
        columns, values = features
        if len(self.weights) == 1:
            row, sign = 0, (1.0 if label == self.classes[1] else -1.0)
        else:
            row, sign = self.classes.index(label), 1.0
        contributions = sign * self.weights[row, columns] * values
        intercept = sign * float(self.intercept[row])
        # Equal contributions in column order: the two runtimes list a text's columns in
        # different orders, and an answer is to be the same by either.
        order = np.lexsort((columns, -np.abs(contributions)))
        return {
            "label": label,
            "decision_value": intercept + math.fsum(contributions.tolist()),
            "intercept": intercept,
            "terms": [
                {
                    "term": self.term(int(columns[index])),
                    "contribution": float(contributions[index]),
                }
                for index in order[:top]
            ],
            "rest": math.fsum(contributions[order[top:]].tolist()),
        }


def explain(
    model: LoadedModel, texts: Sequence[str], predictions: Sequence[fast_scoring.Prediction]
) -> list[Explanation]:
    """The explanations of the version's predictions of texts (LoadedModel.predict's), with
    EXPLAIN_TOP_TERMS terms per label."""
    found = explainer(model, len(texts))
    if isinstance(found, str):
        unavailable: Explanation = {
            "runtime": _runtime(model, len(texts)),
            "predicted": None,
            "runner_up": None,
            "unavailable": found,
        }
        return [unavailable] * len(texts)
    return found.explain(texts, predictions, settings.EXPLAIN_TOP_TERMS)


def _runtime(model: LoadedModel, count: int) -> str:
    """The runtime LoadedModel.predict scores `count` texts with."""
    if model.scorer is not None and count <= fast_scoring.MAX_FAST_TEXTS:
        return fast_scoring.FAST_RUNTIME
    return fast_scoring.SCIKIT_LEARN_RUNTIME


# Explainers of the versions explained lately, each beside its version, which keeps the
# version's id(): one per runtime of each of the serving cache's versions.
_explainers: collections.OrderedDict[tuple[int, str], tuple[LoadedModel, Explainer | str]] = (
    collections.OrderedDict()
)
_EXPLAINERS_KEPT = 2 * (settings.MODEL_CACHE_SIZE + 1)
_explainers_lock = threading.Lock()


def explainer(model: LoadedModel, count: int = 1) -> Explainer | str:
    """The explainer of the version for `count` texts, or why it has none; built once per
    version and runtime, since naming the terms takes the vocabulary in column order."""
    runtime = _runtime(model, count)
    key = (id(model), runtime)
    with _explainers_lock:
        kept = _explainers.get(key)
        if kept is not None and kept[0] is model:
            _explainers.move_to_end(key)
            return kept[1]
    built = _build(model, runtime)
    with _explainers_lock:
        _explainers[key] = (model, built)
        while len(_explainers) > _EXPLAINERS_KEPT:
            _explainers.popitem(last=False)
    return built


def _build(model: LoadedModel, runtime: str) -> Explainer | str:
    classes = ml.class_labels(model.classifier)
    if runtime == fast_scoring.FAST_RUNTIME and model.scorer is not None:
        scorer = model.scorer
        linear: tuple[Any, Any] | str = (scorer.weights, scorer.intercept)
        features = _fast_features(scorer)
    else:
        linear = _linear(model.classifier)
        features = _scikit_learn_features(model.vectorizer)
    if isinstance(linear, str):
        return linear
    weights, intercept = (np.asarray(part, dtype=np.float64) for part in linear)
    if len(classes) == 2 and len(weights) == 2:
        # Two joint log-likelihoods (naive Bayes): their difference is the one decision.
        weights, intercept = weights[1:] - weights[:1], intercept[1:] - intercept[:1]
    if len(weights) != (1 if len(classes) == 2 else len(classes)):
        return "The model's decision functions do not match its labels, so it is not explained."
    return Explainer(runtime, classes, features, weights, intercept, _terms(model.vectorizer))


def _linear(classifier: Any) -> tuple[Any, Any] | str:
    """scikit-learn's weights and intercepts of the classifier's decision, or why it has none
    to take apart."""
    if type(classifier) is CalibratedClassifierCV:
        if len(classifier.calibrated_classifiers_) != 1:
            return (
                "The model averages the probabilities of several calibrated classifiers, "
                "which no one decision function gives, so it is not explained."
            )
        classifier = classifier.calibrated_classifiers_[0].estimator
    if type(classifier) in _LINEAR:
        return classifier.coef_, classifier.intercept_
    if type(classifier) is MultinomialNB:
        return classifier.feature_log_prob_, classifier.class_log_prior_
    return (
        f"Only linear models are explained exactly, and this version's classifier "
        f"({type(classifier).__name__}) is not one of them."
    )


def _fast_features(scorer: fast_scoring.FastScorer) -> Callable[[Sequence[str]], list[Features]]:
    def features(texts: Sequence[str]) -> list[Features]:
        return [scorer.features(text)[0] or _NO_FEATURES for text in texts]

    return features


def _scikit_learn_features(vectorizer: Any) -> Callable[[Sequence[str]], list[Features]]:
    def features(texts: Sequence[str]) -> list[Features]:
        matrix = vectorizer.transform(texts).tocsr()
        bounds = matrix.indptr.tolist()
        return [
            (
                matrix.indices[start:end].astype(np.intp),
                matrix.data[start:end].astype(np.float64),
            )
            for start, end in itertools.pairwise(bounds)
        ]

    return features


def _terms(vectorizer: Any) -> Callable[[int], str]:
    """A column's term: its vocabulary entry, or "#<column>" where features are hashed and
    have no name."""
    if not hasattr(vectorizer, "vocabulary_"):
        return lambda column: f"#{column}"
    names = vectorizer.get_feature_names_out()
    return lambda column: str(names[column])
