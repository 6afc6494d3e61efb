"""One implementation for threads and the event loop: code that would block (a database
query, a Redis round trip) says so first with `before_blocking()`. Run on the event loop by
`without_blocking`, such a call stops there, having changed nothing, and the whole step runs
again in a thread; everywhere else `before_blocking()` does nothing. So a step that usually
needs no I/O (a remembered token, a leased request budget) costs the event loop no thread
hop, and one that does never stalls it.

The threads are a pool of WEB_CHECK_THREADS per process, not asyncio's default (cores + 4),
so that the database connections they hold are counted (web/gunicorn.conf.py); steps wait
for a free thread beyond that."""

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from common.settings import WEB_CHECK_THREADS

T = TypeVar("T")

_on_event_loop = contextvars.ContextVar("on_event_loop", default=False)
# Threads start at first use, so a pool made before gunicorn forks its workers is each one's.
_threads = ThreadPoolExecutor(WEB_CHECK_THREADS, thread_name_prefix="nonblocking")


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
    # As asyncio.to_thread, on our own pool.
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        _threads, context.run, in_thread or step
    )
