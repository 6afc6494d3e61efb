"""Guessing console passwords: fifty wrong-password sign-ins from one address (fifty user
names), then fifty for one user name from fifty addresses. Past the bounds
(THROTTLE_RATE_SIGN_IN_ADDRESS, THROTTLE_RATE_SIGN_IN_USER) each is answered 429 before its
password is hashed, at the cost of one Redis round trip, while the legitimate caller
predicts."""

import statistics
import time
import uuid
from collections import Counter

from tests import support
from tests.hostile import bounds
from tests.hostile.test_client_identity import _web

ATTEMPTS = 50
# The defaults (web/config/settings.py): failures per address and per user name an hour.
ADDRESS_BOUND = 20
USER_BOUND = 10
PASSWORD = "a long and right passphrase"


def _attempts(url: str, usernames: list[str], forwarded: list[str] | None = None):
    """Each sign-in's status and how long its POST took."""
    answers = []
    for index, username in enumerate(usernames):
        headers = {"X-Forwarded-For": forwarded[index]} if forwarded else {}
        started = time.monotonic()
        _, answer = support.console_sign_in(url, username, "not the password", headers)
        answers.append((answer.status_code, time.monotonic() - started, answer))
    return answers


def _cheaply_refused(answers, bound: int) -> None:
    assert Counter(status for status, _, _ in answers) == {401: bound, 429: ATTEMPTS - bound}
    assert [status for status, _, _ in answers[bound:]] == [429] * (ATTEMPTS - bound)
    refused = answers[-1][2]
    assert "Too many failed sign-ins" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    hashed = statistics.median(seconds for status, seconds, _ in answers if status == 401)
    counted = statistics.median(seconds for status, seconds, _ in answers if status == 429)
    # A refusal costs a Redis round trip, not the PBKDF2 hash a wrong password costs.
    assert counted * 5 < hashed, (counted, hashed)


def test_fifty_wrong_passwords_are_refused_past_the_bounds_while_predictions_go_on(stack):
    username = f"console-{uuid.uuid4().hex[:6]}"
    support.console_user(stack.env, username, "read", password=PASSWORD)
    # One user name from fifty addresses goes through a second web that trusts one proxy
    # (so X-Forwarded-For names the client), with counters of its own.
    with (
        _web(stack, WEB_TRUSTED_PROXY_COUNT="1") as proxied,
        bounds.held(stack, "50 wrong-password console sign-ins, twice") as attack,
    ):
        names = [f"guess-{uuid.uuid4().hex[:8]}" for _ in range(ATTEMPTS)]
        from_one_address = _attempts(stack.web, names)
        addresses = [f"203.0.113.{number}" for number in range(1, ATTEMPTS + 1)]
        for_one_user = _attempts(proxied, [username] * ATTEMPTS, addresses)
        # The right password, from a fresh address: the user name is locked for now.
        _, right = support.console_sign_in(
            proxied, username, PASSWORD, {"X-Forwarded-For": "198.51.100.7"}
        )
        attack.keep(1)
    _cheaply_refused(from_one_address, ADDRESS_BOUND)
    _cheaply_refused(for_one_user, USER_BOUND)
    assert right.status_code == 429
    # The main web's one address spent its budget on guesses: even the right password is
    # refused there until the window ends.
    _, still = support.console_sign_in(stack.web, username, PASSWORD)
    assert still.status_code == 429
