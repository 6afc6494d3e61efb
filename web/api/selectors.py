import logging

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


def health_checks() -> dict[str, bool]:
    """Whether each service web depends on answers right now, by name."""
    return {"database": _database_ok()}


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("Health check: the database is unreachable.", exc_info=True)
        return False
    return True
