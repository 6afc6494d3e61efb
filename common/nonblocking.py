"""One implementation for threads and the event loop: code that would block (a database
query, a Redis round trip) says so first with `before_blocking()`. Run on the event loop by
`without_blocking`, such a call stops there, having changed nothing, and the whole step runs
again in a thread; everywhere else `before_blocking()` does nothing. So a step that usually
needs no I/O (a remembered token, a leased request budget) costs the event loop no thread
hop, and one that does never stalls it."""

import asyncio
import contextvars
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_on_event_loop = contextvars.ContextVar("on_event_loop", default=False)


class WouldBlock(Exception):
    """Raised by before_blocking() on the event loop; caught by without_blocking."""


def before_blocking() -> None:
    if _on_event_loop.get():
        raise WouldBlock


async def without_blocking(step: Callable[[], T], in_thread: Callable[[], T] | None = None) -> T:
    """step() on the event loop if it needs no I/O, else in a thread: there in_thread() if
    given, the same step wrapped in what a thread needs (its database connections looked
    after, say)."""
    token = _on_event_loop.set(True)
    try:
        return step()
    except WouldBlock:
        pass
    finally:
        _on_event_loop.reset(token)
    return await asyncio.to_thread(in_thread or step)
