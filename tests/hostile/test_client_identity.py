"""Who a request comes from, as web tells it: the client address that budgets without a token
are counted for, the paths web forwards with its own credential, and the cost of tokens that
do not exist."""

import contextlib
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import requests

from algorithm.settings import INFERENCE_MODEL_NAME
from tests.hostile import bounds

# Distinct X-Forwarded-For headers of 40 kB (under uvicorn's header limits), enough that a key
# or a remembered entry per header would be seen in Redis and in the workers' memory.
FORWARDED_REQUESTS = 1_500
FORWARDED_BYTES = 40_000
SENDERS = 8
# PostgreSQL counts a backend's table scans when it flushes its statistics: within 10 s of
# going idle (PGSTAT_IDLE_INTERVAL).
STATISTICS_FLUSH_SECONDS = 11


@contextlib.contextmanager
def _web(stack, **overrides: str) -> Iterator[str]:
    """A second web process whose budgets start at nothing (a Redis key prefix of its own)."""
    prefix = f"{stack.env['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:8]}:"
    with stack.web_process(REDIS_KEY_PREFIX=prefix, **overrides) as url:
        yield url


def _statuses(calls, senders: int = SENDERS) -> list[int]:
    with ThreadPoolExecutor(senders) as pool:
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
        # Half the senders: rendering the docs page is the work of this attack, and the
        # memory it would leave behind does not depend on how fast it comes.
        calls = [anonymous(number) for number in range(FORWARDED_REQUESTS)]
        statuses = _statuses(calls, SENDERS // 2)
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


def test_a_v2_path_reaches_the_algorithm_service_as_the_route_web_matched(stack):
    name, version = INFERENCE_MODEL_NAME, stack.model_id
    # Path -> what the service must have been asked about, as its error names it.
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


def _token_lookups(database_url: str) -> int:
    """The scans of the token table so far, as PostgreSQL counts them: one per lookup."""
    conn = psycopg2.connect(database_url, connect_timeout=5)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
                " WHERE relname = 'accounts_apitoken'"
            )
            return cursor.fetchone()[0]
    finally:
        conn.close()


def test_unknown_tokens_spend_a_budget_per_address_before_the_database_is_asked(stack):
    budget = 20

    def call(url: str, number: int, key: str):
        headers = {"Authorization": f"Token {key}"}
        if number % 2:
            return lambda: requests.get(f"{url}/api/data/", headers=headers, timeout=10)
        body = {"text": "hello"}
        return lambda: requests.post(f"{url}/api/predict/", json=body, headers=headers, timeout=10)

    with _web(stack, THROTTLE_RATE_AUTH_FAILURES=f"{budget}/day") as url:
        time.sleep(STATISTICS_FLUSH_SECONDS)
        before = _token_lookups(stack.env["DATABASE_URL"])
        with bounds.held(stack, "unknown tokens") as attack:
            started = time.monotonic()
            same = secrets.token_hex(20)
            repeated = _statuses([call(url, number, same) for number in range(300)])
            guessed = _statuses([call(url, n, secrets.token_hex(20)) for n in range(400)])
            attack.keep(max(0.0, 3 - (time.monotonic() - started)))
        time.sleep(STATISTICS_FLUSH_SECONDS)
        lookups = _token_lookups(stack.env["DATABASE_URL"]) - before
        throttled = requests.get(
            f"{url}/api/data/", headers={"Authorization": "Token nonesuch"}, timeout=10
        )

    counted = Counter(guessed)
    print(f"\ntoken lookups: {lookups} for 700 requests; guessed tokens: {dict(counted)}")
    assert Counter(repeated) == {401: 300}
    # The budget, then one more per process once it is spent and the calls under way then.
    assert set(counted) == {401, 429} and counted[401] <= budget + 2 * SENDERS, counted
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 86_400
    assert throttled.json()["message"].startswith(
        "Too many requests with an unknown token from this address."
    )
    # As many, and the legitimate caller's rechecks of its token: not one per request.
    assert lookups <= budget + 2 * SENDERS + 10, lookups
