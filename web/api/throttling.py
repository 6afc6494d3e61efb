"""Per-client request budgets on reads, writes and predictions, per client address on failed
authentications, and per client address and user name on the console's failed sign-ins,
counted in Redis (Django's cache) so that every gunicorn worker and every web replica spends
the same budget."""

import hashlib
import logging
import threading
import time
from collections import OrderedDict

from django.core.cache import cache as default_cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from common.nonblocking import before_blocking
from web.accounts.scopes import Scope, required_scope

logger = logging.getLogger(__name__)


def client_address(request) -> str:
    """Who sent a request, as far as web can tell: the connection's peer, or behind
    WEB_TRUSTED_PROXY_COUNT proxies the address they wrote into X-Forwarded-For (DRF's
    NUM_PROXIES, web/config/settings.py)."""
    return str(BaseThrottle().get_ident(request))


def _address_key(request) -> str:
    # Hashed: a key's length is bounded whatever a header held (Redis memory, the leases here,
    # the cache's key-length warning, which keeps every distinct text it warned about).
    return "addr" + hashlib.blake2b(client_address(request).encode(), digest_size=16).hexdigest()


class _Leases:
    """The part of each counter's budget this process took from Redis and has not spent yet.

    A process takes its budget in leases of up to LEASE_MAX requests, so that a busy client
    costs one Redis round trip per lease instead of one per request. The shared counter counts
    every leased request, so the clients of all processes together never get more than the
    budget; what a process leased but did not spend when the window ends (under one lease per
    process and counter, at most a thousandth of a budget) is lost to that client.
    """

    LEASE_MAX = 64
    # What a counter holds once Redis said its budget is spent.
    SPENT = -1
    # Counters held: beyond this, the least recently used lease is dropped (its rest unspent).
    MAX_COUNTERS = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # counter key -> requests left in this process's lease, or SPENT once Redis said the
        # budget is gone (a window's counter never goes down, so Redis is not asked again).
        self._left: OrderedDict[str, int] = OrderedDict()

    @classmethod
    def size(cls, budget: int) -> int:
        return max(1, min(cls.LEASE_MAX, budget // 1000))

    def spend(self, key: str) -> bool | None:
        """Whether one more request is allowed, or None when a new lease must be taken."""
        with self._lock:
            left = self._left.get(key)
            if not left:
                return None
            self._left.move_to_end(key)
            if left == self.SPENT:
                return False
            self._left[key] = left - 1
            return True

    def hold(self, key: str, granted: int) -> None:
        """Keep a lease of `granted` requests (none: the budget is spent), one of them spent
        by the caller."""
        with self._lock:
            self._left[key] = granted - 1 if granted > 0 else self.SPENT
            self._left.move_to_end(key)
            while len(self._left) > self.MAX_COUNTERS:
                self._left.popitem(last=False)


class ClientRateThrottle(SimpleRateThrottle):
    """A fixed-window counter per client (the token's user, or without a token the client
    address) and scope.

    Scope `predict` for predictions, `write` for every other unsafe method, `read` for the
    rest. The counter is one atomic increment per lease of requests (see _Leases), where
    DRF's own throttles move the list of every request time in the window through the cache on
    each call.

    Fails open: when Redis cannot be reached the request is allowed, a warning is logged and
    Redis is not asked again for OUTAGE_SECONDS, so a Redis outage never costs a prediction
    more than one short socket timeout.
    """

    OUTAGE_SECONDS = 5.0
    # Monotonic time until which this process allows everything; shared by its threads.
    skip_until = 0.0
    leases = _Leases()

    def __init__(self) -> None:
        # The scope, hence the rate, is only known per request (see allow_request).
        self.wait_seconds: float | None = None

    def allow_request(self, request, view) -> bool:
        # Requests that need the predict scope spend the `predict` budget, every other write
        # spends `write`, every read (GET, HEAD, OPTIONS) `read`.
        if required_scope(view, request.method) == Scope.PREDICT:
            scope = "predict"
        else:
            scope = "read" if request.method in SAFE_METHODS else "write"
        key = self._counter(scope, request)
        if key is None:
            return True
        known = self.leases.spend(key)
        if known is not None:
            return known
        lease = _Leases.size(self.num_requests)
        before_blocking()
        leased = self._increment(key, lease)
        if leased is None:
            return True
        granted = min(lease, self.num_requests - (leased - lease))
        self.leases.hold(key, granted)
        return granted > 0

    def _counter(self, scope: str, request) -> str | None:
        """The key of the request's counter in this window, or None if nothing is counted."""
        self.scope = scope
        # Read per request, not at import like DRF's THROTTLE_RATES, so settings can change.
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if self.rate is None or time.monotonic() < ClientRateThrottle.skip_until:
            return None
        self.num_requests, self.duration = self.parse_rate(self.rate)
        now = time.time()
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        return f"{self.get_cache_key(request, None)}_{window}"

    def get_cache_key(self, request, view) -> str:
        user = request.user
        ident = f"user{user.pk}" if user and user.is_authenticated else _address_key(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def _increment(self, key: str, amount: int) -> int | None:
        """The counter after adding `amount`; None while Redis cannot be reached."""
        # One round trip, where the cache's own incr() first asks whether the key exists.
        key = self.cache.make_and_validate_key(key)
        client = self.cache._cache.get_client(key, write=True)
        try:
            with client.pipeline(transaction=False) as pipeline:
                pipeline.incrby(key, amount)
                pipeline.expire(key, self.duration, nx=True)
                count, _ = pipeline.execute()
        except RedisError as error:
            ClientRateThrottle.skip_until = time.monotonic() + self.OUTAGE_SECONDS
            logger.warning(
                "Throttling is off for %g s: Redis cannot be reached (%s).",
                self.OUTAGE_SECONDS,
                error,
            )
            return None
        return count

    def wait(self) -> float | None:
        return self.wait_seconds


class FailedAuthentications(ClientRateThrottle):
    """Requests per client address whose token the database did not know
    (THROTTLE_RATE_AUTH_FAILURES). Once an address has spent its budget, its requests with a
    token this process has not already checked are answered 429 before the database is
    asked; each process learns so from its own next failure, so all processes together make
    at most the budget plus one query each per window (and those already under way)."""

    # Here only the counters known to be spent.
    leases = _Leases()

    def admit(self, request) -> None:
        """Raise Throttled if the request's address has spent its budget; no I/O."""
        key = self._counter("auth_failures", request)
        if key is not None and self.leases.spend(key) is False:
            raise Throttled(
                self.wait_seconds, "Too many requests with an unknown token from this address."
            )

    def failed(self, request) -> None:
        """Count one failed authentication of the request's address."""
        key = self._counter("auth_failures", request)
        if key is None:
            return
        count = self._increment(key, 1)
        if count is not None and count >= self.num_requests:
            self.leases.hold(key, 0)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": _address_key(request)}


class SignInUnavailable(Exception):
    """Redis, which counts failed sign-ins, cannot be reached: sign-in waits for it rather
    than let passwords be guessed without a bound."""


class SignInFailures:
    """Failed console sign-ins, per client address (THROTTLE_RATE_SIGN_IN_ADDRESS) and per user
    name (THROTTLE_RATE_SIGN_IN_USER), each a fixed window counted in Redis like the request
    budgets, so that every web process and replica shares them.

    `refused()` is asked before a password is hashed, and costs one Redis round trip: once
    either budget is spent, a sign-in is answered at that cost, whatever its password. Unlike
    the request budgets it fails closed (SignInUnavailable): without the counters, nothing
    would bound the guesses."""

    def __init__(self, request, username: str) -> None:
        now = time.time()
        self.counters: list[tuple[str, int, int]] = []  # (key, budget, window seconds)
        self.wait_seconds = 0.0
        name = hashlib.blake2b(username.casefold().encode(), digest_size=16).hexdigest()
        for scope, ident in (("sign_in_address", _address_key(request)), ("sign_in_user", name)):
            rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
            if rate is None:
                continue
            budget, duration = ClientRateThrottle().parse_rate(rate)
            window = int(now // duration)
            key = default_cache.make_and_validate_key(f"throttle_{scope}_{ident}_{window}")
            self.counters.append((key, budget, duration))
            self.wait_seconds = max(self.wait_seconds, (window + 1) * duration - now)

    def _client(self):
        return default_cache._cache.get_client(write=True)

    def refused(self) -> bool:
        """Whether the address or the user name has spent its budget of failures."""
        if not self.counters:
            return False
        try:
            counts = self._client().mget([key for key, _, _ in self.counters])
        except RedisError as error:
            raise SignInUnavailable() from error
        return any(
            count is not None and int(count) >= budget
            for count, (_, budget, _) in zip(counts, self.counters, strict=True)
        )

    def failed(self) -> None:
        """Count one failure against both."""
        if not self.counters:
            return
        try:
            with self._client().pipeline(transaction=False) as pipeline:
                for key, _, duration in self.counters:
                    pipeline.incr(key)
                    pipeline.expire(key, duration, nx=True)
                pipeline.execute()
        except RedisError as error:
            raise SignInUnavailable() from error
