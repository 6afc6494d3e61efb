"""The prediction log's policy: which predictions are kept in web's `predictions` table, and
what of each.

Uncertain predictions (top probability below a threshold, or top minus runner-up below
another) are always kept, a share of the rest at random; each with its text in full, as a
keyed hash or not at all, by why it was kept. Full texts past a byte budget per minute are
kept as hashes. Every kept prediction has its `text_key`, a keyed hash of the text
lower-cased with its white space collapsed, by which the review queue shows a text once.

The answer path only decides (`Policy.kept_because`, from two numbers and one random draw)
and hands a `Record` on; `Rows` turns records into the table's rows (hashes, entropy, JSON)
in the writer's thread (algorithm/domain/prediction_log_writer.py).

Web owns the table (web/learning/models.py); the algorithm service inserts into it and its
retention job deletes from it, through the names below, which
tests/test_prediction_log_contract.py holds to web's model and its latest migration.
"""

import datetime
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from algorithm import settings
from common.coalescing import Origin

PREDICTIONS_TABLE = "predictions"
# The columns the writer fills, in the order of its rows.
PREDICTION_COLUMNS = (
    "id",
    "created_at",
    "model_id",
    "label",
    "scores",
    "top_probability",
    "margin",
    "entropy",
    "caller",
    "request_id",
    "reference",
    "text",
    "text_hash",
    "text_key",
    "kept_because",
    "shadow_model_id",
    "shadow_label",
)
# The columns that are NULL for a prediction no shadow scored (COPY's FORCE_NULL).
NULLABLE_COLUMNS = ("shadow_model_id", "shadow_label")
# Web's tables whose rows name a logged prediction, by the column that names it: retention
# keeps the predictions they name (their foreign keys would refuse the delete anyway).
PREDICTION_REFERRERS = (("feedback", "prediction_id"), ("review_items", "prediction_id"))

# Why a prediction is in the log (web's KeptBecause).
UNCERTAIN = "uncertain"
SAMPLED = "sampled"
# The shadow labelled it otherwise: every such prediction is kept, its text as an uncertain
# one's, for the review queue's `disagreement` strategy.
DISAGREEMENT = "disagreement"
# What is kept of its text.
FULL, HASH, NONE = settings.PREDICTION_LOG_TEXT_MODES
# The caller of a prediction that names none: the algorithm service's own callers.
INTERNAL_CALLER = "internal"
BUDGET_SECONDS = 60.0


class Record(NamedTuple):
    """A kept prediction, as the answer path hands it on."""

    prediction_id: str
    # time.time() when it was answered.
    created: float
    model_id: str
    label: str
    scores: dict[str, float]
    text: str
    origin: Origin
    kept_because: str
    top_probability: float
    margin: float
    # The shadow that also scored the text, and its label ("" for none).
    shadow_model_id: str = ""
    shadow_label: str = ""


def top_and_margin(scores: dict[str, float]) -> tuple[float, float]:
    """The top probability, and how far the runner-up is below it (the top itself for a
    single class)."""
    first = second = 0.0
    for probability in scores.values():
        if probability > first:
            first, second = probability, first
        elif probability > second:
            second = probability
    return first, first - second


@dataclass(frozen=True)
class Policy:
    """The settings' PREDICTION_LOG_* values (docs/operations.md)."""

    uncertain_below: float
    # 0: the margin makes no prediction uncertain.
    margin_below: float
    sample_rate: float
    text_uncertain: str
    text_sampled: str
    text_bytes_per_minute: int

    @classmethod
    def from_settings(cls) -> "Policy":
        return cls(
            uncertain_below=settings.PREDICTION_LOG_UNCERTAIN_BELOW,
            margin_below=settings.PREDICTION_LOG_MARGIN_BELOW,
            sample_rate=settings.PREDICTION_LOG_SAMPLE_RATE,
            text_uncertain=settings.PREDICTION_LOG_TEXT_UNCERTAIN,
            text_sampled=settings.PREDICTION_LOG_TEXT_SAMPLED,
            text_bytes_per_minute=settings.PREDICTION_LOG_TEXT_BYTES_PER_MINUTE,
        )

    def kept_because(
        self, top: float, margin: float, draw: Callable[[], float], disagreed: bool = False
    ) -> str | None:
        """UNCERTAIN, DISAGREEMENT (the shadow labelled it otherwise), SAMPLED, or None for a
        prediction the log leaves out; `draw` is random.random (it is only called for a
        prediction kept for neither of the first two)."""
        if top < self.uncertain_below or margin < self.margin_below:
            return UNCERTAIN
        if disagreed:
            return DISAGREEMENT
        if self.sample_rate and draw() < self.sample_rate:
            return SAMPLED
        return None

    def text_mode(self, kept_because: str) -> str:
        return self.text_sampled if kept_because == SAMPLED else self.text_uncertain


class TextBudget:
    """The bytes of full text a minute may keep: a text that would take the minute past them
    is hashed instead. Used by one thread, the writer's."""

    def __init__(self, bytes_per_minute: int, clock: Callable[[], float] = time.monotonic):
        self._limit = bytes_per_minute
        self._clock = clock
        self._window_start = clock()
        self._used = 0

    def take(self, size: int) -> bool:
        now = self._clock()
        if now - self._window_start >= BUDGET_SECONDS:
            self._window_start, self._used = now, 0
        if self._used + size > self._limit:
            return False
        self._used += size
        return True


def text_key_of(text: str) -> str:
    """What makes two texts the same to a reviewer: case and white space aside."""
    return " ".join(text.lower().split())


def entropy(scores: dict[str, float]) -> float:
    """In nats: 0 for a certain prediction, log(classes) for a uniform one."""
    return sum(-p * math.log(p) for p in scores.values() if p > 0)


# A row of PREDICTION_COLUMNS, as COPY reads it (every value as text; "" is NULL in the
# NULLABLE_COLUMNS).
Row = tuple[str, ...]


class Rows:
    """Records as the table's rows: the keyed hashes, the entropy, the scores as JSON and the
    text the policy and the budget keep."""

    def __init__(self, key: str, policy: Policy, clock: Callable[[], float] = time.monotonic):
        self._key = key.encode()
        self._policy = policy
        self._budget = TextBudget(policy.text_bytes_per_minute, clock)

    def keyed_hash(self, text: str) -> str:
        """HMAC-SHA256 of the text, in hex: the same text gives the same hash under one key,
        and nothing that can be checked against a guess without it."""
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def row(self, record: Record) -> Row:
        mode = self._policy.text_mode(record.kept_because)
        if mode == FULL and not self._budget.take(len(record.text.encode())):
            mode = HASH
        created = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        return (
            record.prediction_id,
            created.isoformat(),
            record.model_id,
            record.label,
            json.dumps(record.scores, ensure_ascii=False),
            repr(record.top_probability),
            repr(record.margin),
            repr(entropy(record.scores)),
            record.origin.caller or INTERNAL_CALLER,
            record.origin.request_id,
            record.origin.reference,
            record.text if mode == FULL else "",
            self.keyed_hash(record.text) if mode == HASH else "",
            self.keyed_hash(text_key_of(record.text)),
            record.kept_because,
            record.shadow_model_id,
            record.shadow_label,
        )
