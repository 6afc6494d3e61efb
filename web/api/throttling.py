"""Per-client request budgets on writes and predictions, counted in Redis (Django's cache) so
that every gunicorn worker and every web replica spends the same budget."""

import logging
import time

from redis.exceptions import RedisError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

# The URL names whose requests spend the `predict` budget; every other write spends `write`.
PREDICT_URL_NAMES = frozenset({"predict"})


class ClientRateThrottle(SimpleRateThrottle):
    """A fixed-window counter per client (the token's user) and scope.

    Scope `predict` for predictions, `write` for every other unsafe method; reads are never
    throttled. A counter is one atomic increment per request, where DRF's own throttles move
    the list of every request time in the window through the cache on each call.

    Fails open: when Redis cannot be reached the request is allowed, a warning is logged and
    Redis is not asked again for OUTAGE_SECONDS, so a Redis outage never costs a prediction
    more than one short socket timeout.
    """

    OUTAGE_SECONDS = 5.0
    # Monotonic time until which this process allows everything; shared by its threads.
    skip_until = 0.0

    def __init__(self) -> None:
        # The scope, hence the rate, is only known per request (see allow_request).
        self.wait_seconds: float | None = None

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        match = request.resolver_match
        self.scope = "predict" if match and match.url_name in PREDICT_URL_NAMES else "write"
        # Read per request, not at import like DRF's THROTTLE_RATES, so settings can change.
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if self.rate is None or time.monotonic() < ClientRateThrottle.skip_until:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        now = time.time()
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        key = f"{self.get_cache_key(request, view)}_{window}"
        try:
            count = self._increment(key)
        except RedisError as error:
            ClientRateThrottle.skip_until = time.monotonic() + self.OUTAGE_SECONDS
            logger.warning(
                "Throttling is off for %g s: Redis cannot be reached (%s).",
                self.OUTAGE_SECONDS,
                error,
            )
            return True
        return count <= self.num_requests

    def get_cache_key(self, request, view) -> str:
        user = request.user
        ident = f"user{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def _increment(self, key: str) -> int:
        # One round trip, where the cache's own incr() first asks whether the key exists.
        key = self.cache.make_and_validate_key(key)
        client = self.cache._cache.get_client(key, write=True)
        with client.pipeline(transaction=False) as pipeline:
            pipeline.incr(key)
            pipeline.expire(key, self.duration, nx=True)
            count, _ = pipeline.execute()
        return count

    def wait(self) -> float | None:
        return self.wait_seconds
