"""Explanations (algorithm/domain/explanations.py): for every algorithm, by the fast runtime
and by scikit-learn's, on two labels and on three, each label's intercept + terms + rest is
scikit-learn's own decision value for it, to 1e-9; a model with no exact explanation says so."""

import math

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from algorithm import settings
from algorithm.domain import explanations, fast_scoring, ml
from algorithm.domain.store import LoadedModel
from common import limits
from tests.algorithm.test_algorithms import SMS_ROWS, THREE_LABEL_ROWS
from tests.test_fast_scoring import EDGE_TEXTS, train_compared

SETS = {"sms": SMS_ROWS, "three_labels": THREE_LABEL_ROWS}
RUNTIMES = (fast_scoring.FAST_RUNTIME, fast_scoring.SCIKIT_LEARN_RUNTIME)
EXACT = 1e-9


@pytest.fixture(scope="module", params=[(a, s) for a in ml.ALGORITHMS for s in SETS])
def trained(request):
    algorithm, set_name = request.param
    model, _ = train_compared(algorithm, SETS[set_name])
    return algorithm, set_name, model


def served(model: ml.TrainedModel, runtime: str) -> LoadedModel:
    scorer = None
    if runtime == fast_scoring.FAST_RUNTIME:
        scorer = fast_scoring.build(model.vectorizer, model.classifier)
        assert scorer is not None
    return LoadedModel("explained", {}, model.vectorizer, model.classifier, scorer)  # type: ignore[typeddict-item]


def scikit_learn_decisions(model: ml.TrainedModel, texts: list[str]) -> np.ndarray:
    """scikit-learn's own decision values, one column per label: for two labels, the one
    decision function negated for the first label."""
    features = model.vectorizer.transform(texts)
    classifier = model.classifier
    if isinstance(classifier, CalibratedClassifierCV):
        classifier = classifier.calibrated_classifiers_[0].estimator
    if isinstance(classifier, MultinomialNB):
        joint = classifier.predict_joint_log_proba(features)
        if joint.shape[1] == 2:
            difference = joint[:, 1] - joint[:, 0]
            return np.column_stack([-difference, difference])
        return joint
    decisions = classifier.decision_function(features)
    if decisions.ndim == 1:
        return np.column_stack([-decisions, decisions])
    return decisions


def texts_of(set_name: str) -> list[str]:
    rows = SETS[set_name]
    return [text for text, _ in rows[:: max(1, len(rows) // 400)]] + EDGE_TEXTS


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_each_label_adds_up_to_scikit_learns_decision_value(trained, runtime):
    algorithm, set_name, model = trained
    texts = texts_of(set_name)
    loaded = served(model, runtime)
    predictions, explained = [], []
    # In calls of at most the texts a call may ask to explain, as the service makes them.
    for start in range(0, len(texts), limits.MAX_EXPLAIN_TEXTS):
        batch = texts[start : start + limits.MAX_EXPLAIN_TEXTS]
        predicted = loaded.predict(batch)
        predictions += predicted
        explained += explanations.explain(loaded, batch, predicted)
    reference = scikit_learn_decisions(model, texts)
    labels = model.labels
    worst = 0.0
    for row, explanation, (label, scores) in zip(reference, explained, predictions, strict=True):
        assert explanation["runtime"] == runtime
        assert explanation["unavailable"] is None
        predicted, runner_up = explanation["predicted"], explanation["runner_up"]
        assert predicted is not None and runner_up is not None
        others = sorted((name for name in labels if name != label), key=lambda n: -scores[n])
        assert (predicted["label"], runner_up["label"]) == (label, others[0])
        for part in (predicted, runner_up):
            terms = [term["contribution"] for term in part["terms"]]
            total = part["intercept"] + math.fsum(terms) + part["rest"]
            assert abs(total - part["decision_value"]) <= EXACT
            expected = row[labels.index(part["label"])]
            worst = max(worst, abs(part["decision_value"] - expected))
            assert abs(part["decision_value"] - expected) <= EXACT, (algorithm, part)
            assert len(terms) <= settings.EXPLAIN_TOP_TERMS
            assert [abs(c) for c in terms] == sorted((abs(c) for c in terms), reverse=True)
        if len(labels) == 2:
            assert runner_up["decision_value"] == pytest.approx(-predicted["decision_value"])
    print(f"{algorithm} on {set_name} by {runtime}: {len(texts)} texts, worst {worst:.3g}")


def test_both_runtimes_give_every_term_the_same_contribution(trained, monkeypatch):
    _, set_name, model = trained
    # Every term: terms of nearly equal contributions may change places by a rounding.
    monkeypatch.setattr(settings, "EXPLAIN_TOP_TERMS", limits.MAX_EXPLAIN_TOP_TERMS)
    texts = texts_of(set_name)[:50]
    fast, slow = (served(model, runtime) for runtime in RUNTIMES)
    predictions = fast.predict(texts)
    for by_fast, by_slow in zip(
        explanations.explain(fast, texts, predictions),
        explanations.explain(slow, texts, predictions),
        strict=True,
    ):
        for part in ("predicted", "runner_up"):
            fast_terms = {t["term"]: t["contribution"] for t in by_fast[part]["terms"]}
            slow_terms = {t["term"]: t["contribution"] for t in by_slow[part]["terms"]}
            assert fast_terms == pytest.approx(slow_terms, abs=EXACT)


def test_terms_are_the_texts_words_or_hashed_columns(trained):
    algorithm, _, model = trained
    text = "Free entry to WIN a cash prize, call now to claim"
    loaded = served(model, fast_scoring.FAST_RUNTIME)
    (explanation,) = explanations.explain(loaded, [text], loaded.predict([text]))
    terms = [term["term"] for term in explanation["predicted"]["terms"]]
    assert terms
    if ml.ALGORITHMS[algorithm].build_vectorizer is ml._hashing:
        assert all(term.startswith("#") and term[1:].isdigit() for term in terms)
    else:
        assert set(terms) <= set(text.lower().replace(",", "").split())


def test_fewer_terms_named_leave_the_rest_summed(monkeypatch):
    model, _ = train_compared("logistic_regression", SMS_ROWS)
    text = " ".join(text for text, _ in SMS_ROWS[:20])
    loaded = served(model, fast_scoring.FAST_RUNTIME)
    prediction = loaded.predict([text])
    (everything,) = explanations.explain(loaded, [text], prediction)
    monkeypatch.setattr(settings, "EXPLAIN_TOP_TERMS", 3)
    (three,) = explanations.explain(loaded, [text], prediction)
    whole, top = everything["predicted"], three["predicted"]
    assert len(top["terms"]) == 3 and top["terms"] == whole["terms"][:3]
    rest = [term["contribution"] for term in whole["terms"][3:]]
    assert top["rest"] == pytest.approx(math.fsum(rest) + whole["rest"], abs=EXACT)
    assert top["decision_value"] == pytest.approx(whole["decision_value"], abs=EXACT)


def test_a_text_without_known_words_is_its_intercept():
    model, _ = train_compared("linear_svm", SMS_ROWS)
    for runtime in RUNTIMES:
        loaded = served(model, runtime)
        (explanation,) = explanations.explain(
            loaded, ["qzxv wkrpt"], loaded.predict(["qzxv wkrpt"])
        )
        predicted = explanation["predicted"]
        assert predicted["terms"] == [] and predicted["rest"] == 0.0
        assert predicted["decision_value"] == predicted["intercept"]


@pytest.mark.parametrize(
    ("classifier", "says"),
    [
        (KNeighborsClassifier(n_neighbors=1), "KNeighborsClassifier"),
        (
            CalibratedClassifierCV(LinearSVC(), cv=2, ensemble=True),
            "several calibrated classifiers",
        ),
    ],
)
def test_a_model_with_no_exact_explanation_says_why_instead(classifier, says):
    texts, labels = (
        ["win cash now", "see you at lunch", "free prize call", "lunch at noon"],
        [
            "spam",
            "ham",
            "spam",
            "ham",
        ],
    )
    vectorizer = TfidfVectorizer()
    classifier.fit(vectorizer.fit_transform(texts), labels)
    loaded = LoadedModel("unexplained", {}, vectorizer, classifier)  # type: ignore[typeddict-item]
    (explanation,) = explanations.explain(loaded, ["win now"], loaded.predict(["win now"]))
    assert explanation["predicted"] is None and explanation["runner_up"] is None
    assert says in explanation["unavailable"] and explanation["unavailable"].endswith(".")
    assert explanation["runtime"] == fast_scoring.SCIKIT_LEARN_RUNTIME
