"""Drift without labels, as Prometheus metrics: what each prediction adds (record, on the
hot path: one counter increment per label and call, three histogram observations per text,
the metrics' children looked up once per version), and the drift gauges computed at scrape
time from those, summed over the service's processes, against each loaded version's
reference profile (algorithm/domain/drift.py).

The out-of-vocabulary share is observed only for texts the fast runtime scores with a
vocabulary: it counts the tokens in the pass that scores them. Versions served by
scikit-learn, or with a hashing vectorizer, have no such histogram samples.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from prometheus_client import Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from algorithm.domain import drift
from algorithm.domain.records import ReferenceProfile
from algorithm.serving.model_repository import model_repository
from common import settings as common_settings
from common.launch import SERVICE_TREES

_VERSION = "model_version"
PREDICTED_LABELS = Counter(
    "textclf_predicted_labels",
    "Texts classified, by model version and predicted label.",
    [_VERSION, "label"],
)
TOP_PROBABILITY = Histogram(
    "textclf_prediction_top_probability",
    "The top probability of each prediction, by model version.",
    [_VERSION],
    buckets=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
TEXT_CHARS = Histogram(
    "textclf_prediction_text_chars",
    "The length in characters of each text classified, by model version.",
    [_VERSION],
    buckets=(16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536),
)
OOV_SHARE = Histogram(
    "textclf_prediction_oov_share",
    "The share of each text's tokens missing from the vocabulary, by model version (texts "
    "the fast runtime scores with a vocabulary only).",
    [_VERSION],
    buckets=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
)


class _Children(NamedTuple):
    """A version's histograms and its label counters, looked up once: .labels() costs about
    as much as an observation, and versions are few (prometheus_client keeps every child it
    made anyway)."""

    top: Any
    chars: Any
    oov: Any
    labels: dict[str, Any]


_children: dict[str, _Children] = {}


def _of(version: str) -> _Children:
    children = _children.get(version)
    if children is None:
        children = _children.setdefault(
            version,
            _Children(
                TOP_PROBABILITY.labels(version),
                TEXT_CHARS.labels(version),
                OOV_SHARE.labels(version),
                {},
            ),
        )
    return children


def record(
    version: str,
    texts: Sequence[str],
    predictions: Sequence[drift.Prediction],
    token_counts: Sequence[tuple[int, int]],
) -> None:
    """One call's predictions, added to its version's drift metrics."""
    children = _of(version)
    tally: dict[str, int] = {}
    for text, (label, scores) in zip(texts, predictions, strict=True):
        tally[label] = tally.get(label, 0) + 1
        children.top.observe(drift.top_probability(scores))
        children.chars.observe(drift.text_chars(text))
    for label, count in tally.items():
        counter = children.labels.get(label)
        if counter is None:
            counter = children.labels.setdefault(label, PREDICTED_LABELS.labels(version, label))
        counter.inc(count)
    for tokens, known in token_counts:
        share = drift.oov_share(tokens, known)
        if share is not None:
            children.oov.observe(share)


def merged() -> Iterable[Metric]:
    """The drift metrics' families summed over every process of the service's trees (the gRPC
    server's and the shim's), whose samples are in the multiprocess files; outside of the
    launcher, this process's own."""
    trees = next(
        (trees for trees in SERVICE_TREES.values() if common_settings.METRICS_TREE in trees), ()
    )
    if not trees:
        return [
            family
            for metric in (PREDICTED_LABELS, TOP_PROBABILITY, TEXT_CHARS, OOV_SHARE)
            for family in metric.collect()
        ]
    files = [
        str(path)
        for tree in trees
        for pattern in ("counter_*.db", "histogram_*.db")
        for path in (common_settings.METRICS_DIR / tree).glob(pattern)
    ]
    return multiprocess.MultiProcessCollector.merge(files, accumulate=True)


_SUMS = {
    "textclf_prediction_top_probability_sum": "top_probability_sum",
    "textclf_prediction_text_chars_sum": "text_chars_sum",
    "textclf_prediction_oov_share_sum": "oov_share_sum",
}


def served(families: Iterable[Metric]) -> dict[str, drift.Served]:
    """Each version's served figures, from the drift metrics' families."""
    by_version: dict[str, drift.Served] = {}

    def of(version: str) -> drift.Served:
        return by_version.setdefault(version, _nothing())

    for family in families:
        for sample in family.samples:
            version = sample.labels.get(_VERSION)
            if version is None:
                continue
            if sample.name == "textclf_predicted_labels_total":
                figures = of(version)
                label = sample.labels["label"]
                figures["label_counts"][label] = figures["label_counts"].get(label, 0) + int(
                    sample.value
                )
                figures["predictions"] += int(sample.value)
            elif sample.name in _SUMS:
                of(version)[_SUMS[sample.name]] += sample.value  # type: ignore[literal-required]
            elif sample.name == "textclf_prediction_oov_share_count":
                of(version)["oov_texts"] += int(sample.value)
    return by_version


def reference_profile(version: str) -> ReferenceProfile | None:
    """A loaded version's reference profile, if its manifest has one (without loading it)."""
    loaded = model_repository.held(version)
    return loaded.manifest.get("reference_profile") if loaded else None


def version_drift(version: str, profile: ReferenceProfile | None) -> drift.Drift:
    """One version's drift, from what the service's processes served of it."""
    return drift.compare(profile, served(merged()).get(version) or _nothing())


def _nothing() -> drift.Served:
    return {
        "predictions": 0,
        "label_counts": {},
        "top_probability_sum": 0.0,
        "text_chars_sum": 0.0,
        "oov_share_sum": 0.0,
        "oov_texts": 0,
    }


_GAUGES = (
    (
        "textclf_drift_label_psi",
        "label_psi",
        "Population stability index of the predicted labels served since the server started "
        "against the hold-out's predicted labels at training, by model version.",
    ),
    (
        "textclf_drift_top_probability_delta",
        "top_probability_delta",
        "Mean top probability served minus the hold-out's at training, by model version.",
    ),
    (
        "textclf_drift_oov_share_delta",
        "oov_share_delta",
        "Mean share of tokens missing from the vocabulary served minus the hold-out's at "
        "training, by model version.",
    ),
)


class DriftCollector(Collector):
    """The drift gauges of each loaded version, computed at scrape time; a version with no
    reference profile, or nothing served to compare, has no sample; the count of predictions
    behind each is textclf_predicted_labels_total's sum."""

    def __init__(
        self,
        loaded: Callable[[], set[str]],
        profile: Callable[[str], ReferenceProfile | None],
        families: Callable[[], Iterable[Metric]] = merged,
    ):
        self._loaded = loaded
        self._profile = profile
        self._families = families

    def collect(self) -> Iterator[Metric]:
        figures = served(self._families())
        drifts = {
            version: drift.compare(self._profile(version), figures.get(version) or _nothing())
            for version in sorted(self._loaded())
        }
        for name, key, help_text in _GAUGES:
            family = GaugeMetricFamily(name, help_text, labels=[_VERSION])
            for version, measured in drifts.items():
                value = measured[key]  # type: ignore[literal-required]
                if value is not None:
                    family.add_metric([version], value)
            yield family
