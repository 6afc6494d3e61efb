"""The fast runtime: the linear algorithms' predictions without scikit-learn's per-call cost.

ml.predict spends about a millisecond on one short text, nearly all of it in scikit-learn's
machinery around a few dozen multiplications (input checks, sparse matrices, dispatch). A
FastScorer computes the same thing directly, in float64: the fitted vectorizer's own
analyzer, vocabulary, idf (or hash) and l2 norm, then the linear decision and the
probability mapping of the installed scikit-learn (CalibratedClassifierCV's sigmoid
calibration, LogisticRegression, SGDClassifier log_loss, MultinomialNB), clipping and
uniform fallbacks included. Any configuration it does not reproduce gets no FastScorer.

Reproducing is not trusted on its face: training compares the two runtimes on every
held-out text (HoldOutComparison) and records the outcome in the signed manifest; a serving
process builds a FastScorer only for a version whose comparison passed (for_version), so a
version trained before this runtime existed, or one the comparison failed, is served by
scikit-learn.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC
from sklearn.utils import murmurhash3_32

from algorithm import settings
from algorithm.domain import ml
from algorithm.domain.records import Manifest, RuntimeCheck

FAST_RUNTIME: Final = "fast_linear"
SCIKIT_LEARN_RUNTIME: Final = "scikit-learn"
# The most the two runtimes' probabilities may differ by on a held-out text for a version
# to be served fast: rounding differences are around 1e-16, anything real far larger.
MAX_ABS_DIFFERENCE = 1e-9
# The most texts one call scores fast. The fast runtime costs about the same per text at any
# batch size (30 to 45 us on one short text), scikit-learn about a millisecond per call plus
# 15 us per text: past about 150 texts scikit-learn's vectorised call is the faster, and the
# two give the same answers on a version whose comparison passed.
MAX_FAST_TEXTS = 128
# Texts per ml.predict call in compare, as evaluation batches them.
COMPARE_BATCH = 1_000
# CalibratedClassifierCV's clip of probabilities that exceed 1.0 by rounding only.
_CLIP_ABOVE_ONE = 1e-5
# murmurhash3_32's one value whose absolute value overflows an int32.
_INT32_MIN = -(2**31)

Prediction = tuple[str, dict[str, float]]
# A text's features: the columns and the l2-normalised values of its non-zero entries.
Features = tuple[NDArray[np.intp], NDArray[np.float64]] | None
# A text's features, and its tokens and those of them in the vocabulary, counted in the same
# pass for drift (algorithm/domain/drift.py); a vectorizer with no vocabulary (hashing)
# counts every token as known.
Counted = tuple[Features, int, int]
Probabilities = Callable[[list[float]], list[float]]


@dataclass(frozen=True)
class FastScorer:
    classes: list[str]
    features: Callable[[str], Counted]
    # False for a hashing vectorizer, whose known-token counts mean nothing.
    has_vocabulary: bool
    # (classes or 1 for binary linear models, features) and one intercept per row.
    weights: NDArray[np.float64]
    intercept: NDArray[np.float64]
    probabilities: Probabilities

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """What ml.predict returns: (label, scores) per text, the label the first arg-max."""
        return self.predict_counted(texts, [])

    def predict_counted(
        self, texts: Sequence[str], token_counts: list[tuple[int, int]]
    ) -> list[Prediction]:
        """predict, appending each text's (tokens, tokens in the vocabulary) to token_counts,
        counted by the pass that scores it, if the vectorizer has a vocabulary."""
        predictions = []
        counted = token_counts.append if self.has_vocabulary else _ignore
        for text in texts:
            features, tokens, known = self.features(text)
            counted((tokens, known))
            if features is None:
                decision = self.intercept.tolist()
            else:
                columns, values = features
                decision = (self.weights[:, columns] @ values + self.intercept).tolist()
            scores = self.probabilities(decision)
            best = max(range(len(scores)), key=scores.__getitem__)
            predictions.append((self.classes[best], dict(zip(self.classes, scores, strict=True))))
        return predictions


def _ignore(_counts: tuple[int, int]) -> None:
    """Where a hashing vectorizer's token counts go: it knows no vocabulary to miss."""


def build(vectorizer: Any, classifier: Any) -> FastScorer | None:
    """The FastScorer for a fitted pair, or None where it would not reproduce scikit-learn."""
    scorer = _build(vectorizer, classifier)
    return scorer if isinstance(scorer, FastScorer) else None


def for_version(manifest: Manifest, vectorizer: Any, classifier: Any) -> FastScorer | None:
    """The FastScorer a serving process uses for a version: only if its training-time
    comparison passed and ALGORITHM_FAST_SCORER is on."""
    runtime = manifest.get("runtime")
    if not settings.FAST_SCORER or runtime is None or runtime["name"] != FAST_RUNTIME:
        return None
    return build(vectorizer, classifier)


def _build(vectorizer: Any, classifier: Any) -> FastScorer | str:
    """The FastScorer, or why there is none."""
    features = _features(vectorizer)
    linear = _linear(classifier)
    if isinstance(features, str) or isinstance(linear, str):
        return " and ".join(part for part in (features, linear) if isinstance(part, str))
    weights, intercept, probabilities = linear
    if weights.shape[1] != _width(vectorizer):
        return "the classifier's features are not the vectorizer's"
    return FastScorer(
        ml.class_labels(classifier),
        features,
        not isinstance(vectorizer, HashingVectorizer),
        weights,
        intercept,
        probabilities,
    )


def _width(vectorizer: Any) -> int:
    if isinstance(vectorizer, HashingVectorizer):
        return int(vectorizer.n_features)
    return len(vectorizer.vocabulary_)


def _features(vectorizer: Any) -> Callable[[str], Counted] | str:
    params = vectorizer.get_params()
    common = {"input": "content", "binary": False, "norm": "l2", "dtype": np.float64}
    if type(vectorizer) is TfidfVectorizer:
        reproduced = {**common, "use_idf": True, "sublinear_tf": False}
        if any(params[name] != value for name, value in reproduced.items()):
            return f"no fast scorer for TfidfVectorizer({_differences(params, reproduced)})"
        return _tfidf_features(vectorizer)
    if type(vectorizer) is HashingVectorizer:
        reproduced = {**common, "alternate_sign": True}
        if any(params[name] != value for name, value in reproduced.items()):
            return f"no fast scorer for HashingVectorizer({_differences(params, reproduced)})"
        return _hashed_features(vectorizer)
    return f"no fast scorer for {type(vectorizer).__name__}"


def _differences(params: dict[str, Any], reproduced: dict[str, Any]) -> str:
    return ", ".join(
        f"{name}={params[name]!r}" for name in reproduced if params[name] != reproduced[name]
    )


def _tfidf_features(vectorizer: Any) -> Callable[[str], Counted]:
    analyzer = vectorizer.build_analyzer()
    column_of = vectorizer.vocabulary_.get
    idf = np.asarray(vectorizer.idf_, dtype=np.float64)

    def features(text: str) -> Counted:
        counts: dict[int, int] = {}
        tokens = analyzer(text)
        for token in tokens:
            column = column_of(token)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return None, len(tokens), 0
        columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values *= idf[columns]
        # Never zero: every idf is at least 1.
        values /= math.sqrt(values @ values)
        return (columns, values), len(tokens), sum(counts.values())

    return features


def _hashed_features(vectorizer: Any) -> Callable[[str], Counted]:
    analyzer = vectorizer.build_analyzer()
    width = int(vectorizer.n_features)
    # What sklearn's FeatureHasher defines abs(-2**31) % n_features to be.
    int32_min_column = (2**31 - 1 - (width - 1)) % width

    def features(text: str) -> Counted:
        sums: dict[int, float] = {}
        tokens = analyzer(text)
        for token in tokens:
            hashed = murmurhash3_32(token, 0, False)
            column = int32_min_column if hashed == _INT32_MIN else abs(hashed) % width
            sums[column] = sums.get(column, 0.0) + (1.0 if hashed >= 0 else -1.0)
        if not sums:
            return None, len(tokens), len(tokens)
        columns = np.fromiter(sums, dtype=np.intp, count=len(sums))
        values = np.fromiter(sums.values(), dtype=np.float64, count=len(sums))
        norm = math.sqrt(values @ values)
        # Signs that cancel out leave a zero vector, which normalize leaves as it is.
        if norm:
            values /= norm
        return (columns, values), len(tokens), len(tokens)

    return features


Linear = tuple[NDArray[np.float64], NDArray[np.float64], Probabilities]


def _linear(classifier: Any) -> Linear | str:
    kind = type(classifier)
    if kind is CalibratedClassifierCV:
        return _calibrated_svm(classifier)
    if kind is LogisticRegression:
        return (
            _float64(classifier.coef_),
            _float64(classifier.intercept_),
            _one_vs_rest if len(classifier.classes_) == 2 else _softmax,
        )
    if kind is SGDClassifier:
        if classifier.loss != "log_loss":
            return f"no fast scorer for SGDClassifier(loss={classifier.loss!r})"
        return _float64(classifier.coef_), _float64(classifier.intercept_), _one_vs_rest
    if kind is MultinomialNB:
        return (
            _float64(classifier.feature_log_prob_),
            _float64(classifier.class_log_prior_),
            _naive_bayes,
        )
    return f"no fast scorer for {kind.__name__}"


def _float64(array: Any) -> NDArray[np.float64]:
    return np.ascontiguousarray(array, dtype=np.float64)


def _calibrated_svm(classifier: Any) -> Linear | str:
    if classifier.method != "sigmoid" or len(classifier.calibrated_classifiers_) != 1:
        return "no fast scorer for a calibration other than one sigmoid calibration"
    (calibrated,) = classifier.calibrated_classifiers_
    svm = calibrated.estimator
    if (
        type(svm) is not LinearSVC
        or any(type(calibrator) is not _SigmoidCalibration for calibrator in calibrated.calibrators)
        or not np.array_equal(svm.classes_, classifier.classes_)
        or not np.array_equal(calibrated.classes, classifier.classes_)
    ):
        return "no fast scorer for a calibrated classifier other than LinearSVC's"
    # One (a, b) per column of the decision: one column for two classes.
    sigmoids = [(float(c.a_), float(c.b_)) for c in calibrated.calibrators]
    n_classes = len(classifier.classes_)

    def probabilities(decision: list[float]) -> list[float]:
        # _CalibratedClassifier.predict_proba, with ensemble=False's mean of one.
        calibrated = [
            _expit(-(a * value + b)) for (a, b), value in zip(sigmoids, decision, strict=True)
        ]
        if n_classes == 2:
            scores = [1.0 - calibrated[0], calibrated[0]]
        else:
            total = sum(calibrated)
            scores = [p / total for p in calibrated] if total != 0 else [1 / n_classes] * n_classes
        return [1.0 if 1.0 < p <= 1.0 + _CLIP_ABOVE_ONE else p for p in scores]

    return _float64(svm.coef_), _float64(svm.intercept_), probabilities


def _expit(value: float) -> float:
    """scipy.special.expit: 1 / (1 + exp(-x)), which is 0 where exp(-x) overflows."""
    try:
        return 1.0 / (1.0 + math.exp(-value))
    except OverflowError:
        return 0.0


def _one_vs_rest(decision: list[float]) -> list[float]:
    """LinearClassifierMixin._predict_proba_lr (binary LogisticRegression, SGDClassifier)."""
    if len(decision) == 1:
        positive = _expit(decision[0])
        return [1.0 - positive, positive]
    scores = [_expit(value) for value in decision]
    total = sum(scores)
    if total == 0:
        return [1 / len(scores)] * len(scores)
    return [score / total for score in scores]


def _softmax(decision: list[float]) -> list[float]:
    """sklearn.utils.extmath.softmax (multinomial LogisticRegression)."""
    top = max(decision)
    exps = [math.exp(value - top) for value in decision]
    total = sum(exps)
    return [value / total for value in exps]


def _naive_bayes(decision: list[float]) -> list[float]:
    """_BaseNB.predict_proba: exp(jll - logsumexp(jll)), scikit-learn's own logsumexp."""
    top = max(decision)
    at_top = sum(1 for value in decision if value == top)
    rest = sum(math.exp(value - top) for value in decision if value != top)
    rest = rest / at_top if rest != 0 else rest
    log_total = math.log1p(rest) + math.log(at_top) + top
    return [math.exp(value - log_total) for value in decision]


class HoldOutComparison:
    """Compares the fast runtime with scikit-learn's predictions of the texts training holds
    out, batch by batch as training predicts them (ml.train's on_hold_out), and tells which
    runtime is to serve the version (record)."""

    def __init__(self) -> None:
        self.texts = 0
        self.max_difference = 0.0
        self.labels_identical = True
        self._scorer: FastScorer | str | None = None

    def observe(
        self, vectorizer: Any, classifier: Any, texts: Sequence[str], expected: list[Prediction]
    ) -> None:
        if self._scorer is None:
            self._scorer = _build(vectorizer, classifier)
        if isinstance(self._scorer, str):
            return
        try:
            actual = self._scorer.predict(texts)
        except Exception as error:  # a scorer that fails is not served, training goes on
            self._scorer = f"the fast scorer failed: {type(error).__name__}: {error}"
            return
        for (label, scores), (fast_label, fast_scores) in zip(expected, actual, strict=True):
            self.labels_identical = self.labels_identical and label == fast_label
            differences = [abs(scores[name] - fast_scores[name]) for name in scores]
            if any(math.isnan(difference) for difference in differences):
                self._scorer = "the fast scorer gave a probability that is not a number"
                return
            self.max_difference = max(self.max_difference, *differences)
        self.texts += len(texts)

    def record(self) -> RuntimeCheck:
        """The manifest's "runtime": the runtime that serves the version, and why."""
        reason = ""
        if isinstance(self._scorer, str):
            reason = self._scorer
        elif self._scorer is None or not self.texts:
            reason = "no held-out text to compare on"
        elif not self.labels_identical:
            reason = "the fast scorer's labels differ from scikit-learn's"
        elif self.max_difference > MAX_ABS_DIFFERENCE:
            reason = (
                f"the fast scorer's probabilities differ from scikit-learn's by up to "
                f"{self.max_difference:.3g}, more than {MAX_ABS_DIFFERENCE:g}"
            )
        return {
            "name": SCIKIT_LEARN_RUNTIME if reason else FAST_RUNTIME,
            "texts_compared": self.texts,
            "max_abs_difference": self.max_difference,
            "labels_identical": self.labels_identical,
            "reason": reason,
        }


def compare(vectorizer: Any, classifier: Any, texts: Sequence[str]) -> RuntimeCheck:
    """Compare the two runtimes on any texts, as training does on its hold-out: for checks
    on more texts than a hold-out has (the benchmark's 100,000-row table)."""
    comparison = HoldOutComparison()
    for start in range(0, len(texts), COMPARE_BATCH):
        batch = texts[start : start + COMPARE_BATCH]
        comparison.observe(vectorizer, classifier, batch, ml.predict(vectorizer, classifier, batch))
    return comparison.record()
