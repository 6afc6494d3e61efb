"""Who a request comes from, as web tells it: the client address that budgets without a token
are counted for, the paths web forwards with its own credential, and the cost of tokens that
do not exist."""

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import requests

from algorithm.settings import INFERENCE_MODEL_NAME
from tests.hostile import bounds

# Distinct X-Forwarded-For headers of 40 kB (under uvicorn's header limits), enough that a key
# or a remembered entry per header would be seen in Redis and in the workers' memory.
FORWARDED_REQUESTS = 1_500
FORWARDED_BYTES = 40_000
SENDERS = 8


@contextlib.contextmanager
def _web(stack, **overrides: str) -> Iterator[str]:
    """A second web process whose budgets start at nothing (a Redis key prefix of its own)."""
    prefix = f"{stack.env['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:8]}:"
    with stack.web_process(REDIS_KEY_PREFIX=prefix, **overrides) as url:
        yield url


def _statuses(calls) -> list[int]:
    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(lambda call: call().status_code, calls))


def test_distinct_forwarded_for_headers_cost_no_memory(stack):
    session = requests.Session()

    def anonymous(number: int):
        forwarded = f"{number}.".ljust(FORWARDED_BYTES, "9")
        return lambda: session.get(
            f"{stack.web}/api/docs/", headers={"X-Forwarded-For": forwarded}, timeout=10
        )

    with bounds.held(stack, "distinct 40 kB X-Forwarded-For headers") as attack:
        started = time.monotonic()
        statuses = _statuses([anonymous(number) for number in range(FORWARDED_REQUESTS)])
        attack.keep(max(0.0, 3 - (time.monotonic() - started)))

    assert Counter(statuses) == {200: FORWARDED_REQUESTS}


def _budget_statuses(url: str, forwarded_for: list[str]) -> list[int]:
    return [
        requests.get(
            f"{url}/api/docs/", headers={"X-Forwarded-For": client}, timeout=10
        ).status_code
        for client in forwarded_for
    ]


def test_only_a_trusted_proxys_forwarded_for_names_the_client(stack):
    clients = ["203.0.113.1"] * 4 + ["203.0.113.2"] * 4
    with _web(stack, THROTTLE_RATE_READ="3/day", WEB_TRUSTED_PROXY_COUNT="1") as url:
        # Behind one proxy: each client it names has its budget.
        assert _budget_statuses(url, clients) == [200, 200, 200, 429] * 2
    with _web(stack, THROTTLE_RATE_READ="3/day") as url:
        # Reached directly: the header is the caller's word, and every request is the peer's.
        assert _budget_statuses(url, [*clients, "203.0.113.3"]) == [200] * 3 + [429] * 6


def test_a_v2_path_reaches_the_shim_as_the_route_web_matched(stack):
    name, version = INFERENCE_MODEL_NAME, stack.model_id
    # Path -> what the shim must have been asked about, as its error names it.
    crafted = {
        f"/v2/models/{name}%3F/ready": f"'{name}?'",
        f"/v2/models/{name}%23/ready": f"'{name}#'",
        f"/v2/models/{name}%3Fx=/versions/{version}/ready": f"'{name}?x='",
        "/v2/models/%2E%2E/ready": "'..'",
        f"/v2/models/{name}/versions/{version}%3F/ready": f"'{version}?'",
        f"/v2/models/{name}/versions/%2E%2E/ready": "'..'",
    }
    for path, named in crafted.items():
        answer = requests.get(f"{stack.web}{path}", timeout=10)
        assert answer.status_code in {400, 404}, (path, answer.status_code, answer.text)
        assert named in answer.json()["error"], (path, answer.text)
        assert "inputs" not in answer.text, (path, answer.text)
