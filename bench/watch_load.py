"""Closed-loop REST predictions that note which model answered each one, run in its own
process by the hot-swap section until its standard input closes (at most MAX_SECONDS).

Usage: ``python -m bench.watch_load URL TOKEN CONCURRENCY OUT_JSON``. Writes
``[[unix_time, status, model_id], ...]``, status 0 for a request that got no answer.
"""

import json
import sys
import threading
import time

import requests

MAX_SECONDS = 600
TIMEOUT_SECONDS = 10


def main() -> None:
    url, token, concurrency, out = sys.argv[1:]
    stop = threading.Event()
    records: list[tuple[float, int, str]] = []
    body = {"text": "Free entry to win a prize, text WIN now"}

    def client() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        while not stop.is_set():
            try:
                answer = session.post(url, json=body, timeout=TIMEOUT_SECONDS)
                model_id = answer.json().get("model_id", "") if answer.ok else ""
                records.append((time.time(), answer.status_code, model_id))
            except (requests.RequestException, ValueError):
                records.append((time.time(), 0, ""))

    threads = [threading.Thread(target=client) for _ in range(int(concurrency))]
    for thread in threads:
        thread.start()
    # The parent closes our standard input to stop the load.
    reader = threading.Thread(target=sys.stdin.read, daemon=True)
    reader.start()
    reader.join(MAX_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    with open(out, "w") as stream:
        json.dump(sorted(records), stream)


if __name__ == "__main__":
    main()
