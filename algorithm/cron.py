"""Cron expressions as the service accepts them: five fields, UTC, firing at most every
SCHEDULE_MIN_INTERVAL_MINUTES. Monitoring's schedules and the promotion policy's trigger
parse them here; Celery's crontab holds what was parsed."""

import datetime
import itertools
from typing import Protocol, cast

from celery.schedules import ParseException, crontab

from algorithm.domain.errors import InvalidArgument
from common import limits


def parse_cron(expression: object) -> "crontab":
    """A five-field cron expression (minute hour day-of-month month day-of-week) that fires
    at most once every SCHEDULE_MIN_INTERVAL_MINUTES."""
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidArgument("cron_expression must be a string such as '*/5 * * * *'.")
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidArgument(
            f"cron_expression must have 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(fields)} in {expression!r}."
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        # By name: crontab's positional order is not cron's (day of week comes third).
        schedule = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except (ValueError, ParseException) as error:
        reason = str(error).rstrip(".")
        raise InvalidArgument(f"cron_expression {expression!r} is not valid: {reason}.") from None
    gap = shortest_gap_minutes(schedule)
    if gap < limits.SCHEDULE_MIN_INTERVAL_MINUTES:
        raise InvalidArgument(
            f"cron_expression {expression!r} fires {gap} minute{'s' if gap > 1 else ''} apart; "
            f"schedules may fire at most every {limits.SCHEDULE_MIN_INTERVAL_MINUTES} minutes "
            f"(for example '*/{limits.SCHEDULE_MIN_INTERVAL_MINUTES} * * * *')."
        )
    return schedule


_DAY_MINUTES = 24 * 60
_ONE_DAY = datetime.timedelta(days=1)
# Four years hold every pattern of months, weekdays and leap days a cron expression can match.
_CALENDAR = [datetime.date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(4 * 366)]


class _CronFields(Protocol):
    """What crontab parsed each field into, which celery-types does not declare."""

    minute: set[int]
    hour: set[int]
    day_of_month: set[int]
    month_of_year: set[int]
    day_of_week: set[int]


def shortest_gap_minutes(cron: "crontab") -> int:
    """The shortest time between two ticks of a schedule, in minutes (a day at most)."""
    schedule = cast(_CronFields, cron)
    times = sorted(hour * 60 + minute for hour in schedule.hour for minute in schedule.minute)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    if any(_fires_on(schedule, day) and _fires_on(schedule, day + _ONE_DAY) for day in _CALENDAR):
        gaps.append(times[0] + _DAY_MINUTES - times[-1])
    return min(gaps, default=_DAY_MINUTES)


def _fires_on(schedule: _CronFields, day: datetime.date) -> bool:
    # Celery matches day of month and day of week both (0 is Sunday), not either as cron does.
    return (
        day.month in schedule.month_of_year
        and day.day in schedule.day_of_month
        and day.isoweekday() % 7 in schedule.day_of_week
    )


def cron_ticked_since(expression: str, since: datetime.datetime) -> bool:
    """Whether the cron expression had a tick after `since` (an aware time) and up to now."""
    schedule = parse_cron(expression)
    return bool(schedule.remaining_estimate(since).total_seconds() <= 0)
