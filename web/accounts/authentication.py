"""Token authentication for the hot path, and through a database outage.

Keys are looked up by their SHA-256 (web/accounts/models.py). Predictions need no database,
so each process trusts a token it has checked, with its scopes and expiry, for
API_TOKEN_CACHE_SECONDS without asking again (a revoked token keeps working in a process for
at most that long), and while the database cannot be reached it goes on accepting the tokens
it checked in the last API_TOKEN_OUTAGE_GRACE_SECONDS, so predictions outlive a PostgreSQL
outage. Both times are bounded where the settings are read (web/config/settings.py). Expiry
is checked on every request, from the remembered time too: no cache outlives it.

Tokens the database refused cost no query for UNKNOWN_SECONDS in that process, and each
refusal spends the client address's budget of failed authentications
(web/api/throttling.py), so that guessing tokens costs a bounded number of queries.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from rest_framework import authentication, exceptions

from common.nonblocking import before_blocking
from web.accounts.models import digest_of
from web.accounts.selectors import token_by_digest
from web.api.throttling import FailedAuthentications

REMEMBER_MOST = 10_000
# How long a process answers a refused token's 401 without asking the database again: short,
# since a token made just after a refusal of its key is refused that long too.
UNKNOWN_SECONDS = 5.0
_clock = time.monotonic


@dataclass(frozen=True)
class TokenGrant:
    """What a request's token allows: `request.auth` (web/accounts/permissions.py reads it)."""

    token_id: int
    scopes: tuple[str, ...]
    # On _clock, converted once from the token's wall-clock expiry; None: never expires.
    expires_at: float | None
    # The token's public handle (ApiToken.fingerprint).
    fingerprint: str

    @property
    def caller(self) -> str:
        """Who asks, as the prediction log records a REST caller."""
        return f"token:{self.fingerprint}"


@dataclass(frozen=True)
class _Checked:
    at: float  # _clock() of the check
    user: object
    grant: TokenGrant


# sha256(key) -> the last successful check; oldest first.
_checked: OrderedDict[str, _Checked] = OrderedDict()
# sha256(key) -> _clock() of the database's refusal; oldest first.
_refused: OrderedDict[str, float] = OrderedDict()
_lock = threading.Lock()

EXPIRED = "The token has expired: ask an admin for a new one."
INVALID = "Invalid token."


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`: DRF's header parsing, our table and cache."""

    def authenticate(self, request):
        # The client address, which failed authentications are counted for.
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple:
        digest = digest_of(key)
        now = _clock()
        checked = _checked.get(digest)
        if checked is None or now - checked.at >= settings.API_TOKEN_CACHE_SECONDS:
            failures = FailedAuthentications()
            if checked is None:
                self._refuse_if_refused_lately(digest, now)
                failures.admit(self.request)
            before_blocking()
            try:
                checked = self._check(digest, now)
            except (OperationalError, InterfaceError):
                if checked is None or now - checked.at > settings.API_TOKEN_OUTAGE_GRACE_SECONDS:
                    raise
            except exceptions.AuthenticationFailed:
                self._forget(digest, refused_at=now)
                failures.failed(self.request)
                raise
        if checked.grant.expires_at is not None and now >= checked.grant.expires_at:
            self._forget(digest)
            raise exceptions.AuthenticationFailed(EXPIRED)
        return checked.user, checked.grant

    @staticmethod
    def _refuse_if_refused_lately(digest: str, now: float) -> None:
        refused_at = _refused.get(digest)
        if refused_at is not None and now - refused_at < UNKNOWN_SECONDS:
            raise exceptions.AuthenticationFailed(INVALID)

    def _check(self, digest: str, now: float) -> _Checked:
        token = token_by_digest(digest=digest)
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        expires_at = None
        if token.expires_at is not None:
            expires_at = now + (token.expires_at - timezone.now()).total_seconds()
        grant = TokenGrant(token.pk, tuple(token.scopes), expires_at, token.fingerprint)
        checked = _Checked(now, token.user, grant)
        with _lock:
            _checked[digest] = checked
            _checked.move_to_end(digest)
            while len(_checked) > REMEMBER_MOST:
                _checked.popitem(last=False)
        return checked

    @staticmethod
    def _forget(digest: str, refused_at: float | None = None) -> None:
        with _lock:
            _checked.pop(digest, None)
            if refused_at is not None:
                _refused[digest] = refused_at
                _refused.move_to_end(digest)
                while len(_refused) > REMEMBER_MOST:
                    _refused.popitem(last=False)
