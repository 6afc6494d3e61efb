"""Token authentication for the hot path, and through a database outage.

Keys are looked up by their SHA-256 (web/accounts/models.py). Predictions need no database,
so each process trusts a token it has checked, with its scopes and expiry, for
API_TOKEN_CACHE_SECONDS without asking again (a revoked token keeps working in a process for
at most that long), and while the database cannot be reached it goes on accepting the tokens
it checked in the last API_TOKEN_OUTAGE_GRACE_SECONDS, so predictions outlive a PostgreSQL
outage. Both times are bounded where the settings are read (web/config/settings.py). Expiry
is checked on every request, from the remembered time too: no cache outlives it.
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

REMEMBER_MOST = 10_000
_clock = time.monotonic


@dataclass(frozen=True)
class TokenGrant:
    """What a request's token allows: `request.auth` (web/accounts/permissions.py reads it)."""

    token_id: int
    scopes: tuple[str, ...]
    # On _clock, converted once from the token's wall-clock expiry; None: never expires.
    expires_at: float | None


@dataclass(frozen=True)
class _Checked:
    at: float  # _clock() of the check
    user: object
    grant: TokenGrant


# sha256(key) -> the last successful check; oldest first.
_checked: OrderedDict[str, _Checked] = OrderedDict()
_lock = threading.Lock()

EXPIRED = "The token has expired: ask an admin for a new one."


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`: DRF's header parsing, our table and cache."""

    def authenticate_credentials(self, key: str) -> tuple:
        digest = digest_of(key)
        now = _clock()
        checked = _checked.get(digest)
        if checked is None or now - checked.at >= settings.API_TOKEN_CACHE_SECONDS:
            before_blocking()
            try:
                checked = self._check(digest, now)
            except (OperationalError, InterfaceError):
                if checked is None or now - checked.at > settings.API_TOKEN_OUTAGE_GRACE_SECONDS:
                    raise
            except exceptions.AuthenticationFailed:
                self._forget(digest)
                raise
        if checked.grant.expires_at is not None and now >= checked.grant.expires_at:
            self._forget(digest)
            raise exceptions.AuthenticationFailed(EXPIRED)
        return checked.user, checked.grant

    def _check(self, digest: str, now: float) -> _Checked:
        token = token_by_digest(digest=digest)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        expires_at = None
        if token.expires_at is not None:
            expires_at = now + (token.expires_at - timezone.now()).total_seconds()
        checked = _Checked(now, token.user, TokenGrant(token.pk, tuple(token.scopes), expires_at))
        with _lock:
            _checked[digest] = checked
            _checked.move_to_end(digest)
            while len(_checked) > REMEMBER_MOST:
                _checked.popitem(last=False)
        return checked

    @staticmethod
    def _forget(digest: str) -> None:
        with _lock:
            _checked.pop(digest, None)
