"""Explanations cost more CPU per text than predictions do. A predict-scope caller asking, from
several connections at once, to explain the most texts a request may (MAX_EXPLAIN_TEXTS), and
more than that, leaves the legitimate caller's predictions answered (bounds.py): a request
over the bound is refused by web before it reaches the algorithm service."""

import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from common import limits
from tests.hostile import bounds

CONNECTIONS = 4
SECONDS = 3


def test_explanations_are_bounded_per_request_and_leave_predictions_answered(stack):
    url = f"{stack.web}/api/predict/"
    texts = [f"{bounds.LEGITIMATE_TEXT} {index}" for index in range(limits.MAX_EXPLAIN_TEXTS)]
    most = {"texts": texts, "explain": True}
    over = {"texts": [*texts, "one more"], "explain": True}
    statuses: collections.Counter[tuple[int, int]] = collections.Counter()
    lock = threading.Lock()

    def flood(body: dict) -> None:
        with requests.Session() as session:
            end = time.monotonic() + SECONDS
            while time.monotonic() < end:
                response = session.post(url, json=body, headers=stack.predict_headers, timeout=30)
                with lock:
                    statuses[len(body["texts"]), response.status_code] += 1

    with (
        bounds.held(stack, f"explanations of {len(texts)} texts from {CONNECTIONS} connections"),
        ThreadPoolExecutor(CONNECTIONS) as pool,
    ):
        list(pool.map(flood, [most, over] * (CONNECTIONS // 2)))
    print(f"\nexplain floods answered: {dict(statuses)}")
    assert set(statuses) == {(len(texts), 200), (len(texts) + 1, 400)}
    refused = requests.post(url, json=over, headers=stack.predict_headers, timeout=10).json()
    assert refused["extra"]["fields"]["explain"][0].startswith(
        f"Explains at most {limits.MAX_EXPLAIN_TEXTS} texts per request"
    )
