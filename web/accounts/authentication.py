"""Token authentication that remembers valid tokens for a few seconds, per process.

DRF's TokenAuthentication reads the token table on every request; predictions are the
hot path and must not wait on the database, so a token seen valid is trusted again for
API_TOKEN_CACHE_SECONDS. A deleted or rotated token therefore keeps working in each web
process for at most that long.
"""

import threading
import time

from django.conf import settings
from rest_framework.authentication import TokenAuthentication

# Bounds the memory a stream of distinct valid tokens can take; refilled as they come back.
_MAX_CACHED_TOKENS = 1024

# token key -> (trusted until, (user, token)), shared by the threads of a process.
_checked: dict[str, tuple[float, tuple]] = {}
_checked_lock = threading.Lock()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):
        now = time.monotonic()
        cached = _checked.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        credentials = super().authenticate_credentials(key)
        with _checked_lock:
            if len(_checked) >= _MAX_CACHED_TOKENS:
                _checked.clear()
            _checked[key] = (now + settings.API_TOKEN_CACHE_SECONDS, credentials)
        return credentials
