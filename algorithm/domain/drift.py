"""Drift without labels: how a version's served texts and predictions compare with its
hold-out set at training.

The per-text measures (top probability, text length, the share of a text's tokens missing
from the vocabulary) are the ones training records in the manifest's reference_profile
(ProfileBuilder) and the serving process observes per prediction, so both sides measure
alike. The served side's figures come from its Prometheus counters and histograms
(algorithm/serving/drift_metrics.py); compare turns them and the profile into the drift
figures: the population stability index of the predicted labels and the differences of the
means.
"""

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from algorithm.domain.records import ReferenceProfile

# The share an empty side of a label counts as in the PSI, so a label one side never has
# adds a large but finite term (the usual 1e-4 of credit-scoring practice).
PSI_EPSILON = 1e-4

Prediction = tuple[str, dict[str, float]]
HoldOutObserver = Callable[[Any, Any, Sequence[str], list[Prediction]], None]


def top_probability(scores: Mapping[str, float]) -> float:
    return max(scores.values())


def text_chars(text: str) -> int:
    return len(text)


def oov_share(tokens: int, known: int) -> float | None:
    """The share of a text's tokens missing from the vocabulary; None for a text with no
    token, where there is nothing to miss."""
    return (tokens - known) / tokens if tokens else None


def token_counter(vectorizer: Any) -> Callable[[str], tuple[int, int]] | None:
    """A text's (tokens, tokens in the vocabulary) by the vectorizer's own analyzer, as the
    fast runtime counts them while scoring; None for a vectorizer with no vocabulary."""
    vocabulary = getattr(vectorizer, "vocabulary_", None)
    if vocabulary is None:
        return None
    analyzer = vectorizer.build_analyzer()

    def counts(text: str) -> tuple[int, int]:
        tokens = analyzer(text)
        return len(tokens), sum(1 for token in tokens if token in vocabulary)

    return counts


def shares(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {label: count / total for label, count in sorted(counts.items())} if total else {}


def psi(expected: Mapping[str, float], counts: Mapping[str, int]) -> float | None:
    """The population stability index of the labels counted against the expected shares:
    the sum over labels of (actual - expected) * ln(actual / expected), each share at least
    PSI_EPSILON; None with nothing counted."""
    total = sum(counts.values())
    if not total:
        return None
    index = 0.0
    for label in expected.keys() | counts.keys():
        want = max(expected.get(label, 0.0), PSI_EPSILON)
        have = max(counts.get(label, 0) / total, PSI_EPSILON)
        index += (have - want) * math.log(have / want)
    return index


class ProfileBuilder:
    """The reference profile of a version's hold-out texts, observed batch by batch as
    training predicts them (ml.train's on_hold_out)."""

    def __init__(self) -> None:
        self.texts = 0
        self.top_probability_sum = 0.0
        self.chars_sum = 0
        self.oov_sum = 0.0
        self.oov_texts = 0
        self._counter: Callable[[str], tuple[int, int]] | None = None
        self._vectorizer: Any = None

    def observe(
        self, vectorizer: Any, _classifier: Any, texts: Sequence[str], predictions: list[Prediction]
    ) -> None:
        if self._vectorizer is not vectorizer:
            self._vectorizer, self._counter = vectorizer, token_counter(vectorizer)
        for text, (_, scores) in zip(texts, predictions, strict=True):
            self.texts += 1
            self.top_probability_sum += top_probability(scores)
            self.chars_sum += text_chars(text)
            if self._counter is not None:
                share = oov_share(*self._counter(text))
                if share is not None:
                    self.oov_sum += share
                    self.oov_texts += 1

    def alongside(self, other: HoldOutObserver) -> HoldOutObserver:
        """One hold-out observer that calls `other` (the runtimes' comparison), then this."""

        def both(
            vectorizer: Any, classifier: Any, texts: Sequence[str], predictions: list[Prediction]
        ) -> None:
            other(vectorizer, classifier, texts, predictions)
            self.observe(vectorizer, classifier, texts, predictions)

        return both

    def profile(self, true: Sequence[str], predicted: Sequence[str]) -> ReferenceProfile:
        count = max(self.texts, 1)
        return {
            "texts": self.texts,
            "predicted_label_shares": shares(Counter(predicted)),
            "true_label_shares": shares(Counter(true)),
            "mean_top_probability": self.top_probability_sum / count,
            "mean_text_chars": self.chars_sum / count,
            "mean_oov_share": self.oov_sum / self.oov_texts if self.oov_texts else None,
        }


class Served(TypedDict):
    """What a version's served predictions added up to: its counters' and histograms'
    figures, summed over the server's processes."""

    predictions: int
    label_counts: dict[str, int]
    top_probability_sum: float
    text_chars_sum: float
    oov_share_sum: float
    # Texts whose out-of-vocabulary share was measured (served fast, with a vocabulary).
    oov_texts: int


class Drift(TypedDict):
    """A version's drift: its baseline (None for a version trained before profiles), the
    served figures with the counts behind them, and the comparisons (None without a
    baseline or without served texts to compare)."""

    baseline: ReferenceProfile | None
    predictions: int
    label_counts: dict[str, int]
    mean_top_probability: float | None
    mean_text_chars: float | None
    oov_texts: int
    mean_oov_share: float | None
    label_psi: float | None
    top_probability_delta: float | None
    oov_share_delta: float | None


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None


def _delta(served: float | None, baseline: float | None) -> float | None:
    return None if served is None or baseline is None else served - baseline


def compare(profile: ReferenceProfile | None, served: Served) -> Drift:
    count = served["predictions"]
    top = _mean(served["top_probability_sum"], count)
    oov = _mean(served["oov_share_sum"], served["oov_texts"])
    return {
        "baseline": profile,
        "predictions": count,
        "label_counts": dict(sorted(served["label_counts"].items())),
        "mean_top_probability": top,
        "mean_text_chars": _mean(served["text_chars_sum"], count),
        "oov_texts": served["oov_texts"],
        "mean_oov_share": oov,
        "label_psi": (
            psi(profile["predicted_label_shares"], served["label_counts"]) if profile else None
        ),
        "top_probability_delta": _delta(top, profile["mean_top_probability"] if profile else None),
        "oov_share_delta": _delta(oov, profile["mean_oov_share"] if profile else None),
    }
