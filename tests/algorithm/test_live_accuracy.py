"""Live accuracy from feedback on logged predictions (web's tables, in the test database),
per version, over its newest N feedback rows and over the last D days."""

import uuid

from algorithm import settings
from algorithm.domain import live_accuracy
from algorithm.domain.live_accuracy import LabelFigures
from tests.algorithm.conftest import VERSION


def test_figures_are_the_hand_computed_ones(feedback):
    # spam predicted 3 times, 2 right; ham predicted 2 times, 1 right; 5 feedback, 3 right.
    for predicted, actual in [
        ("spam", "spam"),
        ("spam", "spam"),
        ("spam", "ham"),
        ("ham", "ham"),
        ("ham", "spam"),
    ]:
        feedback(predicted, actual)

    window = live_accuracy.live_accuracy([VERSION])[VERSION].last_rows

    assert (window.size, window.feedback, window.correct, window.accuracy) == (
        settings.LIVE_ACCURACY_WINDOW_ROWS,
        5,
        3,
        0.6,
    )
    assert window.labels == (
        LabelFigures(label="ham", precision=0.5, recall=0.5, support=2, predicted=2, correct=1),
        LabelFigures(
            label="spam", precision=2 / 3, recall=2 / 3, support=3, predicted=3, correct=2
        ),
    )


def test_a_label_never_predicted_has_no_precision(feedback):
    feedback("ham", "eggs")

    window = live_accuracy.live_accuracy([VERSION])[VERSION].last_days

    assert window.accuracy == 0.0
    assert window.labels == (
        LabelFigures(label="eggs", precision=None, recall=0.0, support=1, predicted=0, correct=0),
        LabelFigures(label="ham", precision=0.0, recall=None, support=0, predicted=1, correct=0),
    )


def test_windows_cut_at_the_newest_rows_and_the_days(feedback, monkeypatch):
    monkeypatch.setattr(settings, "LIVE_ACCURACY_WINDOW_ROWS", 3)
    monkeypatch.setattr(settings, "LIVE_ACCURACY_WINDOW_DAYS", 7)
    feedback("spam", "ham", days=30)  # in neither window
    feedback("spam", "spam", days=10)  # the third newest: in the rows window only
    feedback("spam", "spam", days=2)
    feedback("ham", "spam", days=1)
    feedback("ham", "ham", days=0.5, model_id=str(uuid.uuid4()))  # another version's

    found = live_accuracy.live_accuracy([VERSION])[VERSION]

    assert (found.last_rows.size, found.last_rows.feedback, found.last_rows.correct) == (3, 3, 2)
    assert (found.last_days.size, found.last_days.feedback, found.last_days.correct) == (7, 2, 1)
    assert found.last_days.accuracy == 0.5


def test_a_version_without_feedback_has_empty_windows_and_recent_ones_join(feedback):
    quiet, recent, old = (str(uuid.uuid4()) for _ in range(3))
    feedback("ham", "ham", model_id=recent)
    feedback("ham", "ham", days=30, model_id=old)

    found = live_accuracy.live_accuracy([quiet], with_recent=True)

    assert sorted(found) == sorted([quiet, recent])
    assert (found[quiet].last_rows.feedback, found[quiet].last_rows.accuracy) == (0, None)
    assert found[quiet].last_days.labels == ()
    assert found[recent].last_days.accuracy == 1.0
