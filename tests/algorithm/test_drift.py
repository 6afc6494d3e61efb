"""Drift without labels (algorithm/domain/drift.py, algorithm/serving/drift_metrics.py): the
per-text measures and the PSI by hand, the reference profile training signs into the
manifest, the fast runtime's token counts as training's, and the drift gauges a scrape
reports from known counts."""

import math
import uuid
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from algorithm.domain import drift
from algorithm.domain.records import ReferenceProfile
from algorithm.domain.store import ModelStore
from algorithm.serving import drift_metrics
from algorithm.tools.local_classifier import TextClassifier
from tests.algorithm.test_algorithms import SMS_ROWS

HOLD_OUT_ROWS = 1_394


def test_the_measures_of_one_text():
    assert drift.top_probability({"ham": 0.25, "spam": 0.75}) == 0.75
    assert drift.text_chars("héllo ☃") == 7
    assert drift.oov_share(4, 3) == 0.25
    assert drift.oov_share(0, 0) is None  # no token: nothing to miss


def test_psi_by_hand():
    expected = {"ham": 0.8, "spam": 0.2}
    # Served as trained: no drift.
    assert drift.psi(expected, {"ham": 80, "spam": 20}) == pytest.approx(0.0)
    # Half and half: (0.5-0.8)ln(0.5/0.8) + (0.5-0.2)ln(0.5/0.2) = 0.1410 + 0.2749.
    assert drift.psi(expected, {"ham": 5, "spam": 5}) == pytest.approx(0.4158883, abs=1e-6)
    # A label the hold-out never predicted counts as PSI_EPSILON there, not as a zero.
    only_new = drift.psi({"ham": 1.0}, {"ham": 1, "other": 1})
    assert only_new == pytest.approx(
        (0.5 - 1.0) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    )
    assert drift.psi(expected, {}) is None


def test_compare_without_a_baseline_reports_the_served_figures_only():
    served: drift.Served = {
        "predictions": 4,
        "label_counts": {"spam": 1, "ham": 3},
        "top_probability_sum": 3.2,
        "text_chars_sum": 100.0,
        "oov_share_sum": 0.5,
        "oov_texts": 2,
    }
    measured = drift.compare(None, served)
    assert measured["mean_top_probability"] == pytest.approx(0.8)
    assert measured["mean_text_chars"] == 25.0
    assert measured["mean_oov_share"] == 0.25
    assert measured["label_psi"] is None
    assert measured["top_probability_delta"] is None
    assert measured["oov_share_delta"] is None


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    return ModelStore(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def trained(store):
    texts, labels = zip(*SMS_ROWS, strict=True)
    manifest = TextClassifier(store).train(texts, labels)
    return manifest, store.load(manifest["model_id"])


def test_training_signs_the_hold_outs_profile_into_the_manifest(trained, store):
    manifest, _ = trained
    profile = store.read_manifest(manifest["model_id"])["reference_profile"]
    assert profile["texts"] == HOLD_OUT_ROWS
    assert set(profile["predicted_label_shares"]) == {"ham", "spam"}
    assert sum(profile["predicted_label_shares"].values()) == pytest.approx(1.0)
    # SMS is about 13 % spam; the split is stratified.
    assert profile["true_label_shares"]["spam"] == pytest.approx(0.134, abs=0.01)
    assert 0.5 < profile["mean_top_probability"] <= 1.0
    assert 10 < profile["mean_text_chars"] < 200
    assert 0.0 < profile["mean_oov_share"] < 0.5


def test_a_hashing_version_has_no_out_of_vocabulary_baseline(tmp_path):
    texts, labels = zip(*SMS_ROWS, strict=True)
    manifest = TextClassifier(ModelStore(tmp_path)).train(texts, labels, algorithm="sgd_hashing")
    assert manifest["reference_profile"]["mean_oov_share"] is None
    assert manifest["reference_profile"]["texts"] > 0


def test_the_fast_runtime_counts_tokens_as_training_does(trained):
    _, model = trained
    assert model.runtime == "fast_linear"
    probe = [text for text, _ in SMS_ROWS[:100]] + ["qzxv wkrpt free", "?!..."]
    counts: list[tuple[int, int]] = []
    model.predict(probe, counts)
    counter = drift.token_counter(model.vectorizer)
    assert counter is not None
    assert counts == [counter(text) for text in probe]
    assert counts[-2] == (3, 1)  # only "free" is known
    assert counts[-1] == (0, 0)


def _profile() -> ReferenceProfile:
    return {
        "texts": 100,
        "predicted_label_shares": {"ham": 0.8, "spam": 0.2},
        "true_label_shares": {"ham": 0.8, "spam": 0.2},
        "mean_top_probability": 0.9,
        "mean_text_chars": 50.0,
        "mean_oov_share": 0.1,
    }


def test_the_gauges_a_scrape_reports_from_known_predictions():
    version, bare = str(uuid.uuid4()), str(uuid.uuid4())
    texts = ["a" * 10, "b" * 30, "c c", "d d"]
    predictions = [
        ("ham", {"ham": 0.6, "spam": 0.4}),
        ("ham", {"ham": 0.7, "spam": 0.3}),
        ("spam", {"ham": 0.2, "spam": 0.8}),
        ("spam", {"ham": 0.3, "spam": 0.7}),
    ]
    drift_metrics.record(version, texts, predictions, [(4, 3), (2, 2), (0, 0), (5, 1)])
    drift_metrics.record(bare, texts[:1], predictions[:1], [])
    registry = CollectorRegistry()
    registry.register(
        drift_metrics.DriftCollector(
            lambda: {version, bare}, lambda v: _profile() if v == version else None
        )
    )
    scraped = {
        (sample.name, sample.labels.get("model_version")): sample.value
        for family in registry.collect()
        for sample in family.samples
    }

    # Half and half against 0.8/0.2, as in test_psi_by_hand.
    assert scraped[("textclf_drift_label_psi", version)] == pytest.approx(0.4158883, abs=1e-6)
    # Mean top probability 0.7 against 0.9.
    assert scraped[("textclf_drift_top_probability_delta", version)] == pytest.approx(-0.2)
    # Three texts with tokens: (0.25 + 0 + 0.8) / 3 against 0.1.
    assert scraped[("textclf_drift_oov_share_delta", version)] == pytest.approx(0.35 - 0.1)
    # No profile: no baseline, no gauge.
    assert ("textclf_drift_label_psi", bare) not in scraped
    assert b"textclf_drift_label_psi" in generate_latest(registry)

    measured = drift_metrics.version_drift(version, _profile())
    assert measured["label_counts"] == dict(Counter({"ham": 2, "spam": 2}))
    assert measured["predictions"] == 4
    assert measured["mean_text_chars"] == pytest.approx((10 + 30 + 3 + 3) / 4)
