"""Steps that need I/O leave the event loop for a pool of WEB_CHECK_THREADS threads, which
web's connection count includes (web/gunicorn.conf.py), never for more."""

import asyncio
import threading

from common import nonblocking
from common.settings import WEB_CHECK_THREADS


def test_blocking_steps_run_on_at_most_web_check_threads_threads():
    running = set()
    most = 0
    lock = threading.Lock()

    def step() -> None:
        nonlocal most
        nonblocking.before_blocking()
        with lock:
            running.add(threading.get_ident())
            most = max(most, len(running))
        threading.Event().wait(0.05)
        with lock:
            running.discard(threading.get_ident())

    async def many() -> None:
        await asyncio.gather(
            *(nonblocking.without_blocking(step) for _ in range(4 * WEB_CHECK_THREADS))
        )

    asyncio.run(many())

    assert most == WEB_CHECK_THREADS
