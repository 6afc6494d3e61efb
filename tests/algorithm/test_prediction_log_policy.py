"""The prediction log's policy: uncertain predictions are always kept, a share of the rest at
random, each with its text in full, as a keyed hash or not at all, and no more full text a
minute than the byte budget."""

import dataclasses
import hashlib
import hmac
import json
import math
import random

import pytest

from algorithm.domain.prediction_log import (
    FULL,
    HASH,
    NONE,
    PREDICTION_COLUMNS,
    SAMPLED,
    UNCERTAIN,
    Policy,
    Record,
    Rows,
    top_and_margin,
)
from common.coalescing import INTERNAL, Origin

DEFAULTS = Policy(
    uncertain_below=0.6,
    margin_below=0.0,
    sample_rate=0.1,
    text_uncertain=FULL,
    text_sampled=HASH,
    text_bytes_per_minute=8 << 20,
)
KEY = "the-deployment-key"


def never() -> float:
    """A draw that no sampling rate keeps."""
    return 1.0


def kept_because(policy: Policy, scores: dict[str, float], draw=never) -> str | None:
    return policy.kept_because(*top_and_margin(scores), draw)


def record(text: str, kept: str, scores=None, origin: Origin = INTERNAL) -> Record:
    scores = scores or {"ham": 0.9, "spam": 0.1}
    top, margin = top_and_margin(scores)
    return Record(
        "0b7e4c1e-1d2a-4c55-9a43-4a0f9c1f2d3e",
        0.0,
        "5d9f0c8e-2b1a-4f3e-8c7d-6e5f4a3b2c1d",
        max(scores, key=scores.__getitem__),
        scores,
        text,
        origin,
        kept,
        top,
        margin,
    )


def row(rows: Rows, text: str, kept: str, **fields) -> dict[str, str]:
    return dict(zip(PREDICTION_COLUMNS, rows.row(record(text, kept, **fields)), strict=True))


def keyed(key: str, text: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "scores",
    [{"ham": 0.55, "spam": 0.45}, {"a": 0.59, "b": 0.21, "c": 0.20}, {"a": 0.34, "b": 0.33}],
)
def test_an_uncertain_prediction_is_always_kept(scores):
    assert kept_because(DEFAULTS, scores) == UNCERTAIN
    assert kept_because(dataclasses.replace(DEFAULTS, sample_rate=0.0), scores) == UNCERTAIN


def test_a_small_margin_makes_a_prediction_uncertain_only_when_the_margin_test_is_on():
    scores = {"a": 0.62, "b": 0.30, "c": 0.08}  # margin 0.32

    assert kept_because(DEFAULTS, scores) is None
    assert kept_because(dataclasses.replace(DEFAULTS, margin_below=0.4), scores) == UNCERTAIN
    assert kept_because(dataclasses.replace(DEFAULTS, margin_below=0.3), scores) is None


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0])
def test_the_rest_is_sampled_at_the_rate(rate):
    policy = dataclasses.replace(DEFAULTS, sample_rate=rate)
    draw = random.Random(26).random
    kept = [kept_because(policy, {"ham": 0.97, "spam": 0.03}, draw) for _ in range(20_000)]

    assert set(kept) <= {SAMPLED, None}
    assert kept.count(SAMPLED) / len(kept) == pytest.approx(rate, abs=0.01)


def test_uncertain_and_sampled_predictions_keep_their_own_text_modes():
    policy = dataclasses.replace(DEFAULTS, text_uncertain=FULL, text_sampled=HASH)
    rows = Rows(KEY, policy)
    text = "Free entry, win a prize"

    uncertain = row(rows, text, UNCERTAIN)
    sampled = row(rows, text, SAMPLED)
    hidden = row(Rows(KEY, dataclasses.replace(policy, text_sampled=NONE)), text, SAMPLED)

    assert (uncertain["text"], uncertain["text_hash"]) == (text, "")
    assert (sampled["text"], sampled["text_hash"]) == ("", keyed(KEY, text))
    assert (hidden["text"], hidden["text_hash"]) == ("", "")
    # The review queue's key is there whatever the text mode.
    assert uncertain["text_key"] == sampled["text_key"] == hidden["text_key"]
    assert uncertain["text_key"] == keyed(KEY, "free entry, win a prize")


def test_full_texts_past_the_byte_budget_of_a_minute_are_hashed():
    now = [1000.0]
    rows = Rows(KEY, dataclasses.replace(DEFAULTS, text_bytes_per_minute=10), lambda: now[0])
    # Six bytes each in UTF-8: the budget counts bytes, not characters.
    first, second, small = "ğüş", "çöı", "ok"

    assert row(rows, first, UNCERTAIN)["text"] == first
    over = row(rows, second, UNCERTAIN)
    assert (over["text"], over["text_hash"]) == ("", keyed(KEY, second))
    assert row(rows, small, UNCERTAIN)["text"] == small  # 8 of 10 bytes
    now[0] += 60
    assert row(rows, second, UNCERTAIN)["text"] == second


def test_the_keyed_hash_is_stable_under_one_key_and_differs_under_another():
    text = "  Call 09061701461   NOW\tto claim "
    one, again, other = Rows(KEY, DEFAULTS), Rows(KEY, DEFAULTS), Rows("another-key", DEFAULTS)

    assert one.keyed_hash(text) == again.keyed_hash(text) == keyed(KEY, text)
    assert other.keyed_hash(text) != one.keyed_hash(text)
    assert len(one.keyed_hash(text)) == 64
    # Case and white space aside, two texts are one for the review queue.
    keys = {row(one, t, SAMPLED)["text_key"] for t in (text, "call 09061701461 now to claim")}
    assert keys == {keyed(KEY, "call 09061701461 now to claim")}


def test_a_row_carries_the_prediction_its_origin_and_its_uncertainty():
    scores = {"ham": 0.5, "spam": 0.5}
    origin = Origin("ticket-7", "token:ab12", "req-1")
    rows = Rows(KEY, DEFAULTS)

    logged = row(rows, "hello", UNCERTAIN, scores=scores, origin=origin)
    internal = row(rows, "hello", UNCERTAIN, scores={"ham": 1.0, "spam": 0.0})

    assert {name: logged[name] for name in ("caller", "request_id", "reference")} == {
        "caller": "token:ab12",
        "request_id": "req-1",
        "reference": "ticket-7",
    }
    assert json.loads(logged["scores"]) == scores
    assert float(logged["top_probability"]) == 0.5
    assert float(logged["margin"]) == 0.0
    assert float(logged["entropy"]) == pytest.approx(math.log(2))
    assert logged["created_at"] == "1970-01-01T00:00:00+00:00"
    assert (internal["caller"], internal["reference"], internal["entropy"]) == (
        "internal",
        "",
        "0.0",
    )


def test_top_and_margin_of_one_two_and_three_classes():
    assert top_and_margin({"only": 1.0}) == (1.0, 1.0)
    assert top_and_margin({"ham": 0.25, "spam": 0.75}) == (0.75, 0.5)
    assert top_and_margin({"a": 0.2, "b": 0.5, "c": 0.3}) == pytest.approx((0.5, 0.2))
