"""Token authentication for the hot path, and through a database outage.

DRF's TokenAuthentication reads the token table on every request. Predictions need no
database, so each process trusts a token it has checked for API_TOKEN_CACHE_SECONDS
without asking again (a deleted or rotated token keeps working in a process for at most
that long), and while the database cannot be reached it goes on accepting the tokens it
checked in the last API_TOKEN_OUTAGE_GRACE_SECONDS, so predictions outlive a PostgreSQL
outage. Both times are bounded where the settings are read (web/config/settings.py).
"""

import hashlib
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.db import InterfaceError, OperationalError
from rest_framework import authentication, exceptions

REMEMBER_MOST = 10_000
_clock = time.monotonic

# sha256(token) -> (monotonic time of the last check, (user, token)); oldest first.
_checked: OrderedDict[str, tuple[float, tuple]] = OrderedDict()
_lock = threading.Lock()


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple:
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = _clock()
        checked_at, credentials = _checked.get(digest, (float("-inf"), None))
        if credentials is not None and now - checked_at < settings.API_TOKEN_CACHE_SECONDS:
            return credentials
        try:
            credentials = super().authenticate_credentials(key)
        except (OperationalError, InterfaceError):
            if credentials is None or now - checked_at > settings.API_TOKEN_OUTAGE_GRACE_SECONDS:
                raise
            return credentials
        except exceptions.AuthenticationFailed:
            with _lock:
                _checked.pop(digest, None)
            raise
        with _lock:
            _checked[digest] = (now, credentials)
            _checked.move_to_end(digest)
            while len(_checked) > REMEMBER_MOST:
                _checked.popitem(last=False)
        return credentials
