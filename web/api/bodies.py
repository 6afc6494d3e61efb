"""Request bodies, read on the event loop under a deadline and held to a size limit as the
bytes arrive (web/config/asgi.py, web/algorithm_proxy/predict_asgi.py): a client that stalls
or sends more than the limit holds neither a thread nor more than the limit in memory."""

import asyncio
from collections.abc import Callable

from django.conf import settings
from rest_framework import exceptions, status


class BodyTimedOut(exceptions.APIException):
    status_code = status.HTTP_408_REQUEST_TIMEOUT
    default_code = "request_timeout"

    def __init__(self) -> None:
        seconds = settings.REQUEST_BODY_TIMEOUT_SECONDS
        super().__init__(
            f"The request body did not arrive within {seconds:g} s "
            "(REQUEST_BODY_TIMEOUT_SECONDS): send it whole, right after the headers."
        )


async def read_body(
    receive,
    limit: int,
    too_large: Callable[[], exceptions.APIException],
    write: Callable[[bytes], object],
) -> None:
    """Pass the body's chunks to `write` as they arrive; raise `too_large()` as soon as more
    than `limit` bytes have arrived, whatever the headers said."""
    # A bare timer rather than asyncio.timeout(), which costs predictions several times more.
    task = asyncio.current_task()
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(settings.REQUEST_BODY_TIMEOUT_SECONDS, expire)
    received = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise exceptions.ParseError("The client went away before sending its body.")
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise too_large()
            write(chunk)
            if not message.get("more_body", False):
                return
    except asyncio.CancelledError:
        if not expired or task.uncancel():
            raise
        raise BodyTimedOut() from None
    finally:
        timer.cancel()
