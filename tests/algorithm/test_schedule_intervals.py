"""Cron expressions are read in cron's field order, and a schedule may tick at most every
SCHEDULE_MIN_INTERVAL_MINUTES, so the monitoring queue's work stays bounded."""

import datetime

import pytest

from algorithm.cron import cron_ticked_since, parse_cron, shortest_gap_minutes
from algorithm.domain.errors import InvalidArgument
from common import limits


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [
        ("* * * * *", 1),
        ("*/5 * * * *", 5),
        ("*/7 * * * *", 4),  # 56 past to the next hour
        ("0 * * * *", 60),
        ("0 0,12 * * *", 720),
        ("0 3 * * *", 1440),
        ("59 23 * * 1", 1440),
        ("0,59 0,23 * * 1", 59),  # Monday's last tick is not followed by Tuesday's first
        ("59 23 * * 1,2", 1440),
        ("0,59 0,23 * * 1,2", 1),  # Monday 23:59, then Tuesday 00:00
        ("0 0 28-31 * *", 1440),
    ],
)
def test_the_shortest_gap_between_ticks(monkeypatch, expression, minutes):
    monkeypatch.setattr(limits, "SCHEDULE_MIN_INTERVAL_MINUTES", 1)

    assert shortest_gap_minutes(parse_cron(expression)) == minutes


def test_fields_are_read_in_crons_order():
    schedule = parse_cron("0 3 1 2 5")

    assert (schedule.day_of_month, schedule.month_of_year, schedule.day_of_week) == ({1}, {2}, {5})


def test_a_schedule_more_frequent_than_the_minimum_is_refused_with_an_example(monkeypatch):
    monkeypatch.setattr(limits, "SCHEDULE_MIN_INTERVAL_MINUTES", 5)

    with pytest.raises(InvalidArgument) as refused:
        parse_cron("*/2 * * * *")

    assert refused.value.message == (
        "cron_expression '*/2 * * * *' fires 2 minutes apart; schedules may fire at most every "
        "5 minutes (for example '*/5 * * * *')."
    )
    assert parse_cron("*/5 * * * *").minute == set(range(0, 60, 5))


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        # Celery raises its own ParseException here, not a ValueError: the gRPC fuzzer found it.
        ("* * * * -1", "negative numbers not supported"),
        ("* * 0 * *", "Invalid beginning range: 0 < 1"),
        ("* * * 13 *", "Invalid end range: 13 > 12"),
    ],
)
def test_an_invalid_field_is_an_invalid_argument_that_says_why(expression, reason):
    with pytest.raises(InvalidArgument) as refused:
        parse_cron(expression)

    assert refused.value.message == f"cron_expression {expression!r} is not valid: {reason}."


def test_a_cron_ticked_since_a_time_only_once_a_tick_passed():
    now = datetime.datetime.now(datetime.UTC)
    hourly = "0 * * * *"

    assert cron_ticked_since(hourly, now - datetime.timedelta(minutes=61))
    assert not cron_ticked_since(hourly, now)
