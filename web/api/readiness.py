"""GET /api/health/: whether each service web needs answers right now."""

import logging

from django.core.cache import cache
from django.db import DatabaseError, connection
from redis.exceptions import RedisError

from web.algorithm_proxy.client import algorithm_client

logger = logging.getLogger(__name__)


def readiness() -> tuple[dict[str, bool], bool]:
    """Whether each service web needs answers right now, by name; and, apart, whether the
    algorithm service answers predictions (a fresh deployment is ready before its first
    model, or it could never train one)."""
    algorithm = algorithm_client().readiness()
    checks = {
        "database": _database_ok(),
        "redis": _redis_ok(),
        "algorithm": algorithm["ready"],
    }
    return checks, algorithm["predicting"]


def _redis_ok() -> bool:
    try:
        return bool(cache._cache.get_client(write=False).ping())
    except RedisError:
        logger.warning("Health check: Redis is unreachable.", exc_info=True)
        return False


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("Health check: the database is unreachable.", exc_info=True)
        return False
    return True
