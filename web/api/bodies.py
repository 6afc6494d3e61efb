"""Request bodies, read on the event loop under a deadline and held to a size limit as the
bytes arrive (web/config/asgi.py, web/algorithm_proxy/predict_asgi.py): a client that stalls
or sends more than the limit holds neither a thread nor more than the limit in memory. What
all bodies being read or answered hold in a process's memory is bounded too, and each token's
share of it, so that one caller's many slow bodies cannot take the memory everyone needs."""

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

from a2wsgi.asgi_typing import HTTPScope
from a2wsgi.wsgi import Body, build_environ
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


class BodiesBusy(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "bodies_busy"
    default_detail = (
        "This token's requests already hold as much body memory as one caller may "
        "(WEB_BODY_MEMORY_BYTES); send this one again once they are answered."
    )


class HeldBodies:
    """The bytes of request bodies this process holds in memory, by token. Used only on the
    event loop, so no lock: at most WEB_BODY_MEMORY_BYTES in all, a quarter of it per token."""

    def __init__(self) -> None:
        self.total = 0
        self.by_token: Counter = Counter()

    @contextlib.contextmanager
    def holding(self, token_id: object) -> Iterator[Callable[[int], None]]:
        """A function that counts `n` more bytes held for this request, or raises BodiesBusy;
        what it counted is let go when the block ends (the request answered)."""
        held = 0
        limit = settings.WEB_BODY_MEMORY_BYTES

        def hold(size: int) -> None:
            nonlocal held
            if self.total + size > limit or self.by_token[token_id] + size > limit // 4:
                raise BodiesBusy()
            self.total += size
            self.by_token[token_id] += size
            held += size

        try:
            yield hold
        finally:
            self.total -= held
            self.by_token[token_id] -= held
            if self.by_token[token_id] <= 0:
                del self.by_token[token_id]


held_bodies = HeldBodies()


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
    if task is None:
        raise RuntimeError("Request bodies are read in the request's task.")
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


def environ_of(scope: HTTPScope, body: IO[bytes]) -> dict[str, Any]:
    """The WSGI environ of a request whose body has been read already: a2wsgi reads it from
    any file, though its signature names the Body it streams from."""
    return dict(build_environ(scope, cast(Body, body)))
