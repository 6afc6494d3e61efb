"""The fast runtime (algorithm/domain/fast_scoring.py): for every algorithm it gives what
scikit-learn gives, on two and on three labels and on edge texts; training records the
comparison in the signed manifest; a version whose comparison failed, one trained before the
fast runtime, or any version with ALGORITHM_FAST_SCORER=off is served by scikit-learn."""

import dataclasses
import os
import subprocess
import sys
from collections import Counter

import pytest

from algorithm import settings
from algorithm.domain import fast_scoring, ml
from algorithm.domain.store import ModelStore
from algorithm.tools.local_classifier import TextClassifier
from tests.algorithm.test_algorithms import SMS_ROWS, THREE_LABEL_ROWS, batches_of
from tests.support import REPO_ROOT

SETS = {"sms": SMS_ROWS, "three_labels": THREE_LABEL_ROWS}
HOLD_OUT_ROWS = 1_394
EDGE_TEXTS = [
    "",
    "   ",
    "qzxv wkrpt blorf",  # only words the vocabulary lacks
    "?!... ,,, ;-) :: ##",  # punctuation only: no token at all
    "a",  # shorter than the token pattern
    "free " * 50,  # one word repeated
    "FREE Free free prize PRIZE call now",
    "Ünïcödé naïve café ☃ 日本語のテキスト ÇOK güzel — “quotes” ½",
    "Ｆｒｅｅ ｅｎｔｒｙ",  # full-width letters
    "call 08712300220 claim £1000 now!!! " * 300,  # very long
    " ".join(text for text, _ in SMS_ROWS[:200]),  # long, with every kind of word
]


def train_compared(algorithm: str, rows) -> tuple[ml.TrainedModel, dict]:
    """Train as the worker does (streamed if the algorithm streams), comparing the runtimes on
    the hold-out as training.run_training_job does; the model and the manifest's runtime."""
    comparison = fast_scoring.HoldOutComparison()
    parameters = ml.resolve_parameters(algorithm, {})
    if ml.ALGORITHMS[algorithm].streaming:
        counts = Counter(label for _, label in rows)
        trained = ml.train_streaming(
            batches_of(rows), counts, algorithm, parameters, on_hold_out=comparison.observe
        )
    else:
        texts, labels = [text for text, _ in rows], [label for _, label in rows]
        trained = ml.train(texts, labels, algorithm, parameters, on_hold_out=comparison.observe)
    return trained, dict(comparison.record())


@pytest.fixture(scope="module", params=[(a, s) for a in ml.ALGORITHMS for s in SETS])
def compared(request):
    algorithm, set_name = request.param
    trained, runtime = train_compared(algorithm, SETS[set_name])
    return algorithm, set_name, trained, runtime


def test_every_algorithm_passes_the_hold_out_comparison_and_matches_on_every_row(compared):
    algorithm, set_name, trained, runtime = compared
    assert runtime == {
        "name": "fast_linear",
        "texts_compared": HOLD_OUT_ROWS,
        "max_abs_difference": runtime["max_abs_difference"],
        "labels_identical": True,
        "reason": "",
    }
    assert runtime["max_abs_difference"] <= fast_scoring.MAX_ABS_DIFFERENCE

    texts = [text for text, _ in SETS[set_name]]
    every_row = fast_scoring.compare(trained.vectorizer, trained.classifier, texts)
    print(
        f"{algorithm} on {set_name}: hold-out {runtime['texts_compared']} texts, max "
        f"{runtime['max_abs_difference']:.3g}; every row {every_row['texts_compared']} texts, "
        f"max {every_row['max_abs_difference']:.3g}"
    )
    assert every_row["name"] == "fast_linear", every_row["reason"]
    assert every_row["texts_compared"] == len(texts)
    assert every_row["labels_identical"]


def test_edge_texts_score_as_scikit_learn_scores_them(compared):
    _, _, trained, _ = compared
    scorer = fast_scoring.build(trained.vectorizer, trained.classifier)
    fast = scorer.predict(EDGE_TEXTS)
    slow = ml.predict(trained.vectorizer, trained.classifier, EDGE_TEXTS)
    for text, (label, scores), (fast_label, fast_scores) in zip(
        EDGE_TEXTS, slow, fast, strict=True
    ):
        assert fast_label == label, text[:40]
        assert list(fast_scores) == list(scores)
        assert max(abs(fast_scores[name] - scores[name]) for name in scores) <= 1e-9, text[:40]


def test_a_tie_goes_to_the_first_label_as_with_scikit_learn():
    trained, _ = train_compared("logistic_regression", SMS_ROWS)
    # A text with no known word scores the intercepts alone; with equal ones, an exact tie.
    scorer = fast_scoring.build(trained.vectorizer, trained.classifier)
    tied = dataclasses.replace(scorer, intercept=scorer.intercept * 0)
    ((label, scores),) = tied.predict(["qzxv"])
    assert scores == {"ham": 0.5, "spam": 0.5}
    assert label == "ham"


def test_configurations_it_does_not_reproduce_get_no_fast_scorer():
    trained, _ = train_compared("linear_svm", SMS_ROWS)
    vectorizer = trained.vectorizer
    vectorizer.set_params(sublinear_tf=True)
    try:
        assert fast_scoring.build(vectorizer, trained.classifier) is None
    finally:
        vectorizer.set_params(sublinear_tf=False)
    # The SVM without its calibration: its scores are no probabilities.
    (calibrated,) = trained.classifier.calibrated_classifiers_
    assert fast_scoring.build(vectorizer, calibrated.estimator) is None


@pytest.fixture
def classifier(tmp_path) -> TextClassifier:
    return TextClassifier(ModelStore(tmp_path / "models"))


def test_a_passed_comparison_is_signed_into_the_manifest_and_serves_fast(classifier):
    texts, labels = zip(*SMS_ROWS, strict=True)
    manifest = classifier.train(texts, labels)
    assert manifest["runtime"]["name"] == "fast_linear"
    assert manifest["runtime"]["texts_compared"] == HOLD_OUT_ROWS

    model = classifier.store.load(manifest["model_id"])
    assert model.runtime == "fast_linear"
    assert model.manifest["runtime"] == manifest["runtime"]  # read back, signature checked
    probe = [text for text, _ in SMS_ROWS[:50]]
    _assert_same_predictions(
        model.predict(probe), ml.predict(model.vectorizer, model.classifier, probe)
    )


def test_a_wrong_fast_scorer_is_refused_at_training_and_scikit_learn_serves(
    classifier, monkeypatch
):
    build = fast_scoring._build

    def perturbed(vectorizer, classifier):
        scorer = build(vectorizer, classifier)
        weights = scorer.weights.copy()
        weights[0, vectorizer.vocabulary_["free"]] += 0.5
        return dataclasses.replace(scorer, weights=weights)

    monkeypatch.setattr(fast_scoring, "_build", perturbed)
    texts, labels = zip(*SMS_ROWS, strict=True)
    manifest = classifier.train(texts, labels)

    runtime = manifest["runtime"]
    assert runtime["name"] == "scikit-learn"
    assert runtime["texts_compared"] == HOLD_OUT_ROWS
    assert runtime["max_abs_difference"] > fast_scoring.MAX_ABS_DIFFERENCE
    assert "differ from scikit-learn's" in runtime["reason"]
    model = classifier.store.load(manifest["model_id"])
    assert (model.runtime, model.scorer) == ("scikit-learn", None)
    probe = ["Free entry to win a free prize", "see you at lunch"]
    assert model.predict(probe) == ml.predict(model.vectorizer, model.classifier, probe)


def test_a_version_without_a_runtime_record_and_any_with_the_setting_off_serve_scikit_learn(
    classifier, monkeypatch
):
    texts, labels = zip(*SMS_ROWS, strict=True)
    fast_id = classifier.train(texts, labels)["model_id"]
    trained = ml.train(texts, labels, ml.DEFAULT_ALGORITHM, ml.resolve_parameters("", {}))
    old_id = "00000000-0000-4000-8000-000000000001"
    # As a version published before the fast runtime existed: no "runtime" in its manifest.
    classifier.store.publish(
        old_id, trained.vectorizer, trained.classifier, {"labels": trained.labels}
    )
    assert classifier.store.load(old_id).runtime == "scikit-learn"
    assert classifier.store.load(fast_id).runtime == "fast_linear"

    monkeypatch.setattr(settings, "FAST_SCORER", False)
    model = classifier.store.load(fast_id)
    assert model.runtime == "scikit-learn"
    assert classifier.predict(["Free entry"], fast_id)[0]["label"] == "spam"


@pytest.mark.parametrize(
    ("value", "expected"), [("", "True"), ("on", "True"), ("off", "False"), (" off ", "False")]
)
def test_the_setting_reads_on_or_off_and_empty_means_on(value, expected):
    assert _read_setting(value).stdout.strip() == expected


def test_any_other_value_of_the_setting_is_refused_at_start():
    result = _read_setting("yes")
    assert result.returncode != 0
    assert "ALGORITHM_FAST_SCORER must be on or off, not 'yes'." in result.stderr


def _read_setting(value: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from algorithm import settings; print(settings.FAST_SCORER)"],
        cwd=REPO_ROOT,
        env={**os.environ, "ALGORITHM_FAST_SCORER": value},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _assert_same_predictions(fast, slow):
    assert [label for label, _ in fast] == [label for label, _ in slow]
    for (_, fast_scores), (_, scores) in zip(fast, slow, strict=True):
        assert max(abs(fast_scores[name] - scores[name]) for name in scores) <= 1e-9
