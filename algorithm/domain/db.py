"""PostgreSQL access for the algorithm service and the worker: psycopg2, plain SQL, no ORM."""

import contextlib
import logging
import os
import select
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool
from psycopg2 import sql

from algorithm import settings
from algorithm.domain.errors import Unavailable
from common import settings as common_settings

logger = logging.getLogger(__name__)

# uuid columns read as uuid.UUID (types-psycopg2 leaves this one untyped).
psycopg2.extras.register_uuid()  # type: ignore[no-untyped-call]

# The database went away (or a statement timed out): worth trying again later, unlike a
# bad query.
LOST = (Unavailable, psycopg2.OperationalError, psycopg2.InterfaceError)


class _KeepingPool(psycopg2.pool.ThreadedConnectionPool):
    """Connections opened as they are needed and kept once returned, up to maxconn: psycopg2's
    own pool opens its minconn at once and closes every connection returned beyond them, so
    with none at start each transaction would pay for a new connection."""

    def __init__(self, maxconn: int, dsn: str, **kwargs: Any):
        super().__init__(0, maxconn, dsn, **kwargs)
        self.minconn = maxconn


def _closed_by_server(conn: Any) -> bool:
    """An idle connection with something to read has been ended by the server (a restart
    sends its notice and closes): nothing else arrives unasked, since this pool never
    LISTENs. Checked before each use, at the cost of one select."""
    if conn.closed:
        return True
    readable, _, _ = select.select([conn], [], [], 0)
    return bool(readable)


_pool: _KeepingPool | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def connect(*, client_encoding: str | None = None) -> psycopg2.extensions.connection:
    """A connection of its own, outside the pool; client_encoding None keeps the server's."""
    # psycopg2 leaves a None parameter out of the connection string.
    return psycopg2.connect(
        common_settings.DATABASE_URL,
        connect_timeout=settings.DB_CONNECT_TIMEOUT_SECONDS,
        application_name="textclf-algorithm",
        client_encoding=client_encoding,
    )


def ensure_database() -> bool:
    """Create DATABASE_URL's database if the server lacks it (a fresh local PostgreSQL)."""
    try:
        connect().close()
        return False
    except psycopg2.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    url = urllib.parse.urlsplit(common_settings.DATABASE_URL)
    name = urllib.parse.unquote(url.path.lstrip("/"))
    admin = psycopg2.connect(
        urllib.parse.urlunsplit(url._replace(path="/postgres")),
        connect_timeout=settings.DB_CONNECT_TIMEOUT_SECONDS,
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    return True


def _get_pool() -> _KeepingPool:
    global _pool, _pool_pid
    # A pool inherited through fork shares sockets with the parent: make a new one.
    if _pool is None or _pool_pid != os.getpid():
        with _pool_lock:
            if _pool is None or _pool_pid != os.getpid():
                _pool = _KeepingPool(
                    settings.GRPC_THREADS,
                    common_settings.DATABASE_URL,
                    connect_timeout=settings.DB_CONNECT_TIMEOUT_SECONDS,
                    application_name="textclf-algorithm",
                    options=f"-c statement_timeout={_statement_timeout_ms()}",
                )
                _pool_pid = os.getpid()
    return _pool


def _statement_timeout_ms() -> int:
    return round(common_settings.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000)


def _unavailable(error: Exception) -> Unavailable:
    # The driver's text names hosts, addresses and users: the log has it, callers do not.
    logger.warning("The database is unavailable: %s", str(error).strip())
    return Unavailable("The database is unavailable; try again shortly.")


@contextlib.contextmanager
def transaction() -> Iterator[psycopg2.extras.RealDictCursor]:
    """A pooled connection's cursor in one transaction; a broken connection is dropped."""
    try:
        pool = _get_pool()
        conn = pool.getconn()
        while _closed_by_server(conn):
            pool.putconn(conn, close=True)
            conn = pool.getconn()
    except (psycopg2.OperationalError, psycopg2.pool.PoolError) as error:
        raise _unavailable(error) from error
    broken = False
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
            yield cursor
    except psycopg2.errors.QueryCanceled as error:
        # The connection is sound; only this statement ran past the bound.
        logger.warning("A query ran past the statement timeout: %s", str(error).strip())
        raise Unavailable(
            "The database did not finish the query within "
            f"{common_settings.DATABASE_STATEMENT_TIMEOUT_SECONDS:g} s "
            "(DATABASE_STATEMENT_TIMEOUT_SECONDS); try again shortly."
        ) from error
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
        broken = True
        raise _unavailable(error) from error
    finally:
        pool.putconn(conn, close=broken or bool(conn.closed))


def fetch_one(cursor: psycopg2.extensions.cursor) -> Any:
    """The row of a statement that always returns one (INSERT ... RETURNING, count(*)): a
    dict from the pool's cursors, a tuple from a plain one."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError(f"No row came back from: {cursor.query!r}")
    return row
