"""The canary's rollback check: it judges only on enough answers (or feedback), clears the
canary it judged and no other, and records why with the figures it used."""

import pytest

from algorithm.domain import canary_rollback, live_accuracy, promotion_decisions, traffic_counts
from algorithm.domain.live_accuracy import LiveAccuracy, Window
from algorithm.domain.traffic import Shadow, Traffic, canary_from

SINCE = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def figures(monkeypatch):
    """The counts and live accuracy the check reads, and the decisions it records."""
    state = {"answers": 0, "errors": 0, "feedback": 0, "correct": 0, "decisions": []}
    monkeypatch.setattr(
        traffic_counts, "counts_since", lambda *_: (state["answers"], state["errors"])
    )

    def accuracy(model_ids):
        feedback, correct = state["feedback"], state["correct"]
        window = Window(1000, feedback, correct, correct / feedback if feedback else None, ())
        return {model_ids[0]: LiveAccuracy(model_ids[0], window, window)}

    monkeypatch.setattr(live_accuracy, "live_accuracy", accuracy)
    monkeypatch.setattr(
        promotion_decisions,
        "decision_record",
        lambda **decision: state["decisions"].append(decision) or decision,
    )
    return state


@pytest.fixture
def canary_set(store, publish):
    champion, candidate, shadow = publish(), publish(), publish()
    store.activate(champion)
    canary = canary_from(
        {"model_id": candidate, "percent": 10, "min_answers": 100, "min_live_accuracy": 0.8},
        SINCE,
    )
    store.update_traffic(lambda _: Traffic(canary=canary, shadow=Shadow(shadow, 0.5, SINCE)))
    return champion, candidate


@pytest.mark.parametrize(
    ("answers", "errors", "feedback", "correct"),
    [(99, 99, 0, 0), (1000, 50, 0, 0), (0, 0, 49, 0), (0, 0, 100, 80)],
)
def test_the_canary_stays_within_its_bounds_or_too_soon_to_judge(
    store, canary_set, figures, answers, errors, feedback, correct
):
    figures.update(answers=answers, errors=errors, feedback=feedback, correct=correct)

    assert canary_rollback.check_canary(store) is None
    assert store.read_traffic().canary is not None


def test_too_many_errors_roll_it_back_and_keep_the_shadow(store, canary_set, figures):
    champion, candidate = canary_set
    figures.update(answers=200, errors=11)

    decision = canary_rollback.check_canary(store)

    assert store.read_traffic().canary is None
    assert store.read_traffic().shadow is not None
    assert decision["kind"] == "canary_rollback" and decision["outcome"] == "rolled_back"
    assert (decision["champion_id"], decision["candidate_id"]) == (champion, candidate)
    assert decision["evidence"]["error_rate"] == 0.055
    assert "11 errors in 200 answers (5.5%), above the bound of 5.0%" in decision["reason"]
    assert decision["rule"]["max_error_rate"] == 0.05
    assert canary_rollback.check_canary(store) is None  # nothing left to roll back


def test_low_live_accuracy_rolls_it_back(store, canary_set, figures):
    figures.update(feedback=60, correct=30)

    decision = canary_rollback.check_canary(store)

    assert "live accuracy 50.0% on 60 feedback, below the bound of 80.0%" in decision["reason"]
    assert decision["evidence"]["live_accuracy"] == 0.5
