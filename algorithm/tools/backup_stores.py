"""What backup and restore share: the backup folder's files and format, the summary both
report, and how both reach the stores a backup covers (PostgreSQL through pg_dump and
pg_restore, the project's keys in Redis). The model volume is reached through ModelStore.

The folder holds ``database.dump`` (pg_dump's custom format of the whole database: the data
table, the jobs, results and schedules tables, the learning loop's predictions, feedback and
review_items, Django's tables with the API tokens; pg_restore adds the foreign keys once every
table's rows are in, so no order of tables matters), ``redis.jsonl`` (each RedBeat
schedule key and each stored accuracy, by DUMP, with its time to live), ``models.tar`` (every
version that passed its checks, and the ACTIVE pointer as it was read) and ``backup.json``,
the SHA-256 of each.
"""

import hashlib
import os
import pathlib
import subprocess
import urllib.parse
from dataclasses import dataclass, field

import redis

from algorithm import settings
from algorithm.domain.store import MANIFEST_FILE, MODEL_FILE, VECTORIZER_FILE
from common import settings as common_settings

FORMAT = 1
INDEX_FILE = "backup.json"
DATABASE_FILE = "database.dump"
REDIS_FILE = "redis.jsonl"
MODELS_FILE = "models.tar"
VERSION_FILES = (MANIFEST_FILE, MODEL_FILE, VECTORIZER_FILE)
# pg_dump and pg_restore get this long; a large data table takes minutes, never hours.
DATABASE_TOOL_TIMEOUT_SECONDS = 60 * 60


class BackupError(Exception):
    """A backup or a restore cannot go on; the message says why and what to do."""


@dataclass
class Summary:
    database_bytes: int = 0
    redis_keys: int = 0
    schedules: int = 0
    versions: list[str] = field(default_factory=list)
    active_id: str | None = None
    # Versions kept whose libraries this image does not run (retrain-stale retrains them).
    stale: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# Redis: the schedules RedBeat keeps (on REDBEAT_REDIS_URL) and the accuracy per model (on
# REDIS_URL), each under the deployment's key prefix; never the queues, never the lock.


def redis_stores() -> dict[str, tuple[str, str]]:
    """Each store's name: (its URL, the pattern of the project's keys in it)."""
    prefix = common_settings.REDIS_KEY_PREFIX
    return {
        "scheduler": (settings.REDBEAT_REDIS_URL, f"{prefix}redbeat:*"),
        "accuracy": (common_settings.REDIS_URL, f"{prefix}accuracy:*"),
    }


def _redbeat_lock_key() -> bytes:
    return f"{common_settings.REDIS_KEY_PREFIX}redbeat::lock".encode()


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)


def project_keys(client: redis.Redis, pattern: str) -> list[bytes]:
    # The scheduler's lock belongs to the running scheduler, not to the state kept.
    return sorted(
        key for key in client.scan_iter(match=pattern, count=1000) if key != _redbeat_lock_key()
    )


def is_schedule(key: bytes) -> bool:
    return b":monitor-accuracy:" in key


# PostgreSQL: pg_dump and pg_restore, the password in their environment, not their arguments
# (which every process on the host can read).


def _libpq() -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(common_settings.DATABASE_URL)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = urllib.parse.unquote(parts.password)
        host = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}@" if parts.username else ""
        parts = parts._replace(netloc=f"{user}{host}")
    return urllib.parse.urlunsplit(parts), env


def run_tool(argv: list[str], what: str) -> None:
    url, env = _libpq()
    try:
        result = subprocess.run(
            [*argv, f"--dbname={url}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=DATABASE_TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed: install PostgreSQL's client.") from None
    if result.returncode:
        raise BackupError(f"{what} failed: {result.stderr.strip()}")


def sha256(path: pathlib.Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
