"""Request bodies read on the event loop (web/api/bodies.py): held to the limit on the bytes
that arrive, and to REQUEST_BODY_TIMEOUT_SECONDS."""

import asyncio
import itertools

import pytest

from web.api.bodies import BodyTimedOut, read_body
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
