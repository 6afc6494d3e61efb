"""Request bodies read on the event loop (web/api/bodies.py): held to the limit on the bytes
that arrive, and to REQUEST_BODY_TIMEOUT_SECONDS."""

import asyncio
import contextlib
import itertools

import pytest

from web.api.bodies import BodiesBusy, BodyTimedOut, HeldBodies, read_body
from web.api.exceptions import PayloadTooLarge


def _endless(chunk: bytes):
    sent = itertools.count()

    async def receive() -> dict:
        next(sent)
        return {"type": "http.request", "body": chunk, "more_body": True}

    return receive, sent


async def _never() -> dict:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def test_reading_stops_as_soon_as_more_than_the_limit_has_arrived():
    receive, sent = _endless(b"x" * 1000)
    kept = []

    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_body(receive, 10_000, PayloadTooLarge, kept.append))

    assert (next(sent), len(kept)) == (11, 10)


def test_a_body_that_does_not_arrive_in_time_is_refused(settings):
    settings.REQUEST_BODY_TIMEOUT_SECONDS = 0.05

    with pytest.raises(BodyTimedOut, match="REQUEST_BODY_TIMEOUT_SECONDS"):
        asyncio.run(read_body(_never, 10, PayloadTooLarge, print))


def test_a_request_cancelled_otherwise_stays_cancelled(settings):
    settings.REQUEST_BODY_TIMEOUT_SECONDS = 60

    async def cancelled() -> None:
        reading = asyncio.ensure_future(read_body(_never, 10, PayloadTooLarge, print))
        await asyncio.sleep(0.01)
        reading.cancel()
        await reading

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancelled())


def test_a_token_holds_at_most_a_quarter_of_the_body_memory_and_lets_go_when_answered(settings):
    settings.WEB_BODY_MEMORY_BYTES = 400
    bodies = HeldBodies()

    with bodies.holding(1) as first, bodies.holding(1) as second, bodies.holding(2) as other:
        first(60)
        second(40)
        with pytest.raises(BodiesBusy):
            second(1)
        other(100)
        assert (bodies.total, dict(bodies.by_token)) == (200, {1: 100, 2: 100})

    assert (bodies.total, dict(bodies.by_token)) == (0, {})


def test_every_token_together_hold_at_most_the_body_memory(settings):
    settings.WEB_BODY_MEMORY_BYTES = 400
    bodies = HeldBodies()

    with contextlib.ExitStack() as requests:
        for token in range(4):
            requests.enter_context(bodies.holding(token))(100)
        with pytest.raises(BodiesBusy):
            requests.enter_context(bodies.holding(5))(1)
