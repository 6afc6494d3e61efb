"""Live accuracy: how a model version's predictions fare against the feedback they got.

Per version, over two sliding windows of its feedback: its newest LIVE_ACCURACY_WINDOW_ROWS
feedback rows, and the feedback given in the last LIVE_ACCURACY_WINDOW_DAYS days. Each window
has its feedback count, accuracy, and per label (predicted or true) precision and recall with
the counts behind them, so that a reader sees how little a figure may rest on.

Web owns the tables (web/learning/models.py); the service reads them with the SQL below,
through the names here, which tests/test_prediction_log_contract.py holds to web's models.
"""

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from algorithm import settings
from algorithm.domain import db
from algorithm.domain.prediction_log import PREDICTIONS_TABLE

FEEDBACK_TABLE = "feedback"
# feedback's columns this module reads: its prediction, the true label, when it was given.
FEEDBACK_COLUMNS = ("id", "prediction_id", "label", "created_at")
# predictions' columns it reads: the version and the predicted label.
PREDICTION_READ_COLUMNS = ("id", "model_id", "label")

# Each feedback row of the versions asked for, or with feedback in the days window, numbered
# newest first within its version; the pairs (predicted, true) counted in each window.
_PAIRS = f"""
    WITH labelled AS (
        SELECT p.model_id, p.label AS predicted, f.label AS actual, f.created_at,
            row_number() OVER (
                PARTITION BY p.model_id ORDER BY f.created_at DESC, f.id DESC
            ) AS position
        FROM {FEEDBACK_TABLE} AS f JOIN {PREDICTIONS_TABLE} AS p ON p.id = f.prediction_id
        WHERE p.model_id = ANY(%(model_ids)s::uuid[]) OR (
            %(recent)s AND p.model_id IN (
                SELECT recent_p.model_id
                FROM {FEEDBACK_TABLE} AS recent_f
                JOIN {PREDICTIONS_TABLE} AS recent_p ON recent_p.id = recent_f.prediction_id
                WHERE recent_f.created_at >= %(since)s
            )
        )
    )
    SELECT model_id, predicted, actual,
        count(*) FILTER (WHERE position <= %(rows)s) AS in_rows,
        count(*) FILTER (WHERE created_at >= %(since)s) AS in_days
    FROM labelled
    WHERE position <= %(rows)s OR created_at >= %(since)s
    GROUP BY model_id, predicted, actual
"""


@dataclass(frozen=True)
class LabelFigures:
    """One label's figures in a window; precision or recall is None with nothing behind it."""

    label: str
    precision: float | None
    recall: float | None
    # Feedback whose true label is this one (recall's denominator).
    support: int
    # Feedback on predictions of this label (precision's denominator).
    predicted: int
    # Both: predicted and true.
    correct: int


@dataclass(frozen=True)
class Window:
    """A window of a version's feedback: `size` rows or days."""

    size: int
    feedback: int
    correct: int
    # None without feedback.
    accuracy: float | None
    labels: tuple[LabelFigures, ...]


@dataclass(frozen=True)
class LiveAccuracy:
    model_id: str
    # The newest LIVE_ACCURACY_WINDOW_ROWS feedback rows.
    last_rows: Window
    # The feedback of the last LIVE_ACCURACY_WINDOW_DAYS days.
    last_days: Window


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _window(size: int, pairs: dict[tuple[str, str], int]) -> Window:
    counted = {pair: count for pair, count in pairs.items() if count}
    feedback = sum(counted.values())
    correct = sum(count for (predicted, actual), count in counted.items() if predicted == actual)
    labels = sorted({label for pair in counted for label in pair})
    figures = []
    for label in labels:
        support = sum(count for (_, actual), count in counted.items() if actual == label)
        predicted = sum(count for (guess, _), count in counted.items() if guess == label)
        hits = counted.get((label, label), 0)
        figures.append(
            LabelFigures(
                label=label,
                precision=_ratio(hits, predicted),
                recall=_ratio(hits, support),
                support=support,
                predicted=predicted,
                correct=hits,
            )
        )
    return Window(
        size=size,
        feedback=feedback,
        correct=correct,
        accuracy=_ratio(correct, feedback),
        labels=tuple(figures),
    )


def live_accuracy(
    model_ids: Iterable[str], *, with_recent: bool = False, now: datetime.datetime | None = None
) -> dict[str, LiveAccuracy]:
    """Each version's live accuracy (empty windows for one without feedback); with_recent adds
    every version with feedback in the days window. Raises Unavailable if the database is."""
    asked = [str(uuid.UUID(model_id)) for model_id in model_ids]
    now = now or datetime.datetime.now(datetime.UTC)
    rows_size = settings.LIVE_ACCURACY_WINDOW_ROWS
    days_size = settings.LIVE_ACCURACY_WINDOW_DAYS
    with db.transaction() as cursor:
        cursor.execute(
            _PAIRS,
            {
                "model_ids": asked,
                "recent": with_recent,
                "since": now - datetime.timedelta(days=days_size),
                "rows": rows_size,
            },
        )
        found = cursor.fetchall()
    in_rows: dict[str, dict[tuple[str, str], int]] = {model_id: {} for model_id in asked}
    in_days: dict[str, dict[tuple[str, str], int]] = {model_id: {} for model_id in asked}
    for row in found:
        model_id = str(row["model_id"])
        pair = (row["predicted"], row["actual"])
        in_rows.setdefault(model_id, {})[pair] = row["in_rows"]
        in_days.setdefault(model_id, {})[pair] = row["in_days"]
    return {
        model_id: LiveAccuracy(
            model_id=model_id,
            last_rows=_window(rows_size, in_rows[model_id]),
            last_days=_window(days_size, in_days[model_id]),
        )
        for model_id in in_rows
    }
