"""The learning loop's tables as weeks of use leave them: the prediction log (`predictions`),
with the feedback some predictions got and the review items reviewers decided, written with
COPY. Each logged prediction is made by the algorithm service's own code
(algorithm/domain/prediction_log.py: its policy, its rows, its keyed hashes with the stack's
PREDICTION_LOG_KEY), so the review queue sees the texts as it would in production."""

import dataclasses
import random
import uuid
from collections.abc import Iterator

import psycopg2

from algorithm.domain.prediction_log import (
    DISAGREEMENT,
    NULLABLE_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTIONS_TABLE,
    SAMPLED,
    UNCERTAIN,
    Policy,
    Record,
    Rows,
    top_and_margin,
)
from bench import data
from bench.stack import Stack
from common.coalescing import Origin
from common.credentials import secret

# The log keeps every uncertain prediction and a tenth of the others (the default policy): with
# one prediction in 30 uncertain, a quarter of the log is uncertain.
UNCERTAIN_SHARE = 0.25
# Kept because a shadow version labelled the text otherwise.
DISAGREEMENT_SHARE = 0.01
# The share of the uncertain predictions labelled right by the model; of the others, nearly all.
UNCERTAIN_RIGHT, CERTAIN_RIGHT = 0.6, 0.98
# Of the logged predictions, those that got feedback; of the uncertain ones, those reviewed.
FEEDBACK_EVERY, REVIEWED_EVERY = 50, 40
# Predictions of the active version, the rest of the older ones (if there are any).
ACTIVE_SHARE = 0.8
# Callers: a few API tokens (by fingerprint) and the service's own callers.
CALLERS = ("token:3f9a1c0e5b7d", "token:8e21d4a6c90f", "token:b05c7e13f2a8", "")
REVIEW_STATES = (("accepted", 0.7), ("corrected", 0.15), ("skipped", 0.15))
REVIEWERS = ("user:ana", "user:bo", "token:3f9a1c0e5b7d")
_TEXT_KEY = PREDICTION_COLUMNS.index("text_key")
_TEXT = PREDICTION_COLUMNS.index("text")


@dataclasses.dataclass
class Filled:
    predictions: int = 0
    uncertain: int = 0
    feedback: int = 0
    review_items: int = 0


def _scores(labels: list[str], label: str, top: float) -> dict[str, float]:
    """The model's probabilities: `top` for `label`, the rest shared by the others."""
    rest = (1 - top) / max(len(labels) - 1, 1)
    return {name: top if name == label else rest for name in labels}


def fill_prediction_log(
    stack: Stack, rows: int, days: float, model_ids: list[str], seed: int = 0
) -> Filled:
    """Make the prediction log hold `rows` predictions over the last `days` days (the first of
    `model_ids`, the active version, answered ACTIVE_SHARE of them), with feedback on one in
    FEEDBACK_EVERY and one in REVIEWED_EVERY uncertain texts reviewed, in place of whatever
    the log, the feedback and the review queue held."""
    rng = random.Random(seed)
    policy = dataclasses.replace(
        # Every text the policy keeps in full is kept: a month's texts are written in a minute.
        Policy.from_settings(),
        text_bytes_per_minute=1 << 40,
    )
    make_row = Rows(secret("PREDICTION_LOG_KEY"), policy).row
    labels = sorted({label for _, label in data.sms_rows()})
    shadow_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    filled = Filled()
    feedback: list[tuple[str, ...]] = []
    reviewed: list[tuple[str, ...]] = []
    review_keys: set[str] = set()

    def predictions() -> Iterator[tuple[str, ...]]:
        times = data.spread_times(rows, days, seed)
        for (text, truth), created in zip(data.perturbed_rows(rows, seed), times, strict=True):
            draw = rng.random()
            uncertain = draw < UNCERTAIN_SHARE
            if uncertain:
                top = policy.uncertain_below * (0.85 + 0.15 * rng.random())
            else:
                top = 1 - (1 - policy.uncertain_below) * rng.random() ** 3
            right = rng.random() < (UNCERTAIN_RIGHT if uncertain else CERTAIN_RIGHT)
            label = truth if right else rng.choice([name for name in labels if name != truth])
            scores = _scores(labels, label, top)
            disagreed = not uncertain and draw > 1 - DISAGREEMENT_SHARE
            others = [name for name in labels if name != label]
            shadow_label = rng.choice(others) if disagreed else ""
            record = Record(
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                created.timestamp(),
                model_ids[0] if rng.random() < ACTIVE_SHARE else rng.choice(model_ids),
                label,
                scores,
                text,
                Origin(
                    reference=f"ticket-{rng.randrange(10**6)}" if rng.random() < 0.3 else "",
                    caller=rng.choice(CALLERS),
                    request_id=f"{rng.getrandbits(64):016x}" if rng.random() < 0.5 else "",
                ),
                UNCERTAIN if uncertain else DISAGREEMENT if disagreed else SAMPLED,
                *top_and_margin(scores),
                shadow_id if disagreed else "",
                shadow_label,
            )
            row = make_row(record)
            filled.predictions += 1
            filled.uncertain += uncertain
            decided = created.isoformat()
            if filled.predictions % FEEDBACK_EVERY == 0:
                given_by = rng.choice(REVIEWERS)
                feedback.append(
                    (
                        record.prediction_id,
                        record.model_id,
                        label,
                        truth,
                        decided,
                        decided,
                        given_by,
                    )
                )
            key = row[_TEXT_KEY]
            reviewed_now = uncertain and filled.uncertain % REVIEWED_EVERY == 0
            # A text is one review item, however often it was predicted.
            if reviewed_now and row[_TEXT] and key not in review_keys:
                review_keys.add(key)
                state = rng.choices(*zip(*REVIEW_STATES, strict=True))[0]
                given = {"accepted": label, "corrected": truth, "skipped": ""}[state]
                reviewer = rng.choice(REVIEWERS)
                reviewed.append((key, record.prediction_id, state, reviewer, given, decided))
            yield row

    with psycopg2.connect(stack.env["DATABASE_URL"]) as conn, conn.cursor() as cursor:
        cursor.execute(f"TRUNCATE {PREDICTIONS_TABLE} CASCADE")
        data.copy_csv(
            cursor, PREDICTIONS_TABLE, PREDICTION_COLUMNS, predictions(), NULLABLE_COLUMNS
        )
        feedback_columns = (
            "prediction_id",
            "model_id",
            "predicted",
            "label",
            "created_at",
            "updated_at",
            "given_by",
        )
        filled.feedback = data.copy_csv(cursor, "feedback", feedback_columns, feedback)
        review_columns = ("text_key", "prediction_id", "state", "reviewer", "label", "decided_at")
        filled.review_items = data.copy_csv(cursor, "review_items", review_columns, reviewed)
    conn.close()
    return filled
