"""Live accuracy: how a model version's predictions fare against the feedback they got.

Per version, over two sliding windows of its feedback: its newest LIVE_ACCURACY_WINDOW_ROWS
feedback rows, and the feedback given in the last LIVE_ACCURACY_WINDOW_DAYS days. Each window
has its feedback count, accuracy, and per label (predicted or true) precision and recall with
the counts behind them, so that a reader sees how little a figure may rest on.

Web owns the feedback table (web/learning/models.py); the service reads it with the SQL below,
through the names here, which tests/test_prediction_log_contract.py holds to web's models.
"""

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from algorithm import settings
from algorithm.domain import db

FEEDBACK_TABLE = "feedback"
# feedback's columns this module reads: the version and label of its prediction (copied
# there when the feedback is saved), the true label, when it was given.
FEEDBACK_COLUMNS = ("id", "model_id", "predicted", "label", "created_at")

# The versions asked for, and those with feedback in the days window if asked; for each,
# its newest `rows` feedback rows and those of the last days, numbered newest first: two
# index-only ranges of feedback_model_idx, whatever the size of the table or of the log.
# Then the pairs (predicted, true) counted in each window.
_PAIRS = f"""
    WITH versions AS (
        SELECT unnest(%(model_ids)s::uuid[]) AS model_id
        UNION
        SELECT DISTINCT model_id FROM {FEEDBACK_TABLE}
        WHERE %(recent)s AND created_at >= %(since)s
    ),
    labelled AS (
        SELECT v.model_id, f.predicted, f.label AS actual, f.created_at,
            row_number() OVER (
                PARTITION BY v.model_id ORDER BY f.created_at DESC, f.id DESC
            ) AS position
        FROM versions AS v
        CROSS JOIN LATERAL (
            (
                SELECT id, predicted, label, created_at FROM {FEEDBACK_TABLE}
                WHERE model_id = v.model_id
                ORDER BY created_at DESC, id DESC LIMIT %(rows)s
            )
            UNION
            (
                SELECT id, predicted, label, created_at FROM {FEEDBACK_TABLE}
                WHERE model_id = v.model_id AND created_at >= %(since)s
            )
        ) AS f
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
