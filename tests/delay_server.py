"""An HTTP server whose answers take a known time, for tests/test_open_loop.py: ``python -m
tests.delay_server PORT``. It imports nothing of the project, so it starts in a blink.

``POST /run/NAME?delay_ms=D&stall_at=S&stall_ms=L&status=C&chunked=1`` is answered (status C,
chunked if asked) D ms after it arrived, except that an answer due in the L ms from S seconds
after NAME's first request waits until their end. ``GET /count/NAME`` answers how many
requests NAME received.
"""

import asyncio
import collections
import math
import selectors
import sys
import time
from urllib.parse import parse_qsl, urlsplit


async def _answer(reader, writer, first_arrival: dict, counts: collections.Counter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = time.monotonic()
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            fields = (line.partition(b":") for line in head.lower().split(b"\r\n")[1:])
            length = next((int(v) for n, _, v in fields if n == b"content-length"), 0)
            await reader.readexactly(length)
            parts = urlsplit(target)
            name, query = parts.path.rsplit("/", 1)[-1], dict(parse_qsl(parts.query))
            if method == "GET":
                status, body, due = 200, str(counts[name]).encode(), arrived
            else:
                counts[name] += 1
                start = first_arrival.setdefault(name, arrived)
                due = arrived + float(query.get("delay_ms", 0)) / 1000
                stall_from = start + float(query.get("stall_at", math.inf))
                stall_to = stall_from + float(query.get("stall_ms", 0)) / 1000
                if stall_from <= due < stall_to:
                    due = stall_to
                status, body = int(query.get("status", 200)), b'{"label": "spam"}'
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if query.get("chunked"):
                framing = b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (
                    len(body),
                    body,
                )
            else:
                framing = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            writer.write(b"HTTP/1.1 %d X\r\n%s" % (status, framing))
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _serve(port: int) -> None:
    first_arrival: dict[str, float] = {}
    counts: collections.Counter[str] = collections.Counter()
    server = await asyncio.start_server(
        lambda r, w: _answer(r, w, first_arrival, counts), "127.0.0.1", port, backlog=1024
    )
    await server.serve_forever()


if __name__ == "__main__":
    # Microsecond timers, as the generator's (bench/open_loop.py), so a delay is the one asked.
    asyncio.SelectorEventLoop(selectors.SelectSelector()).run_until_complete(
        _serve(int(sys.argv[1]))
    )
