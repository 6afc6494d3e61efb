"""Token authentication that outlives a database outage for the tokens it has just seen.

Predictions need no database, so while PostgreSQL is down they should keep working. Each
process remembers the tokens it verified in the last REMEMBER_SECONDS and accepts them
while the database cannot be reached; whenever it can, every token is checked there, so a
deleted token stops working at once.
"""

import hashlib
import threading
import time
from collections import OrderedDict

from django.db import InterfaceError, OperationalError
from rest_framework import authentication, exceptions

REMEMBER_SECONDS = 10 * 60
REMEMBER_MOST = 10_000

_seen: OrderedDict[str, tuple[float, tuple]] = OrderedDict()
_lock = threading.Lock()


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple:
        digest = hashlib.sha256(key.encode()).hexdigest()
        try:
            credentials = super().authenticate_credentials(key)
        except (OperationalError, InterfaceError):
            with _lock:
                seen_at, credentials = _seen.get(digest, (0.0, None))
            if credentials is None or time.monotonic() - seen_at > REMEMBER_SECONDS:
                raise
            return credentials
        except exceptions.AuthenticationFailed:
            with _lock:
                _seen.pop(digest, None)
            raise
        with _lock:
            _seen[digest] = (time.monotonic(), credentials)
            _seen.move_to_end(digest)
            while len(_seen) > REMEMBER_MOST:
                _seen.popitem(last=False)
        return credentials
