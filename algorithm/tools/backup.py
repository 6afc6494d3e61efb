"""A deployment's state in one folder, and back: the database, the project's Redis keys and the
model volume (``python -m algorithm.tools.ops backup DIR`` / ``restore DIR``).

DIR holds ``database.dump`` (pg_dump's custom format: the data table, the jobs, results and
schedules tables, Django's tables with the API tokens), ``redis.jsonl`` (each RedBeat
schedule key and each stored accuracy, by DUMP, with its time to live), ``models.tar`` (every
version that passed its checks, and the ACTIVE pointer as it was read) and ``backup.json``,
the SHA-256 of each. A restore checks everything before it changes anything: the checksums,
then every model version's signature and file checksums, unpacked beside the live ones; it
refuses targets that already hold data unless told to replace them (force).
"""

import base64
import datetime
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from algorithm import settings
from algorithm.domain import db
from algorithm.domain.errors import InvalidArgument, NotFound
from algorithm.domain.store import (
    ACTIVE_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    VECTORIZER_FILE,
    ModelIntegrityError,
    ModelStore,
    parse_model_id,
    stale_libraries,
)
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


def _redis_stores() -> dict[str, tuple[str, str]]:
    """Each store's name: (its URL, the pattern of the project's keys in it)."""
    prefix = common_settings.REDIS_KEY_PREFIX
    return {
        "scheduler": (settings.REDBEAT_REDIS_URL, f"{prefix}redbeat:*"),
        "accuracy": (common_settings.REDIS_URL, f"{prefix}accuracy:*"),
    }


def _redbeat_lock_key() -> bytes:
    return f"{common_settings.REDIS_KEY_PREFIX}redbeat::lock".encode()


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)


def _project_keys(client: redis.Redis, pattern: str) -> list[bytes]:
    # The scheduler's lock belongs to the running scheduler, not to the state kept.
    return sorted(
        key for key in client.scan_iter(match=pattern, count=1000) if key != _redbeat_lock_key()
    )


def _is_schedule(key: bytes) -> bool:
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


def _run_tool(argv: list[str], what: str) -> None:
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


def _database_tables() -> int:
    conn = db.connect()
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            return int(db.fetch_one(cursor)[0])
    finally:
        conn.close()


# Backup


def backup(directory: pathlib.Path, store: ModelStore | None = None) -> Summary:
    store = store or ModelStore()
    # The data, and the API tokens' digests: for the operator's eyes only.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: back up into a new folder.")
    summary = Summary()
    _run_tool(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
         f"--file={directory / DATABASE_FILE}"],
        "pg_dump",
    )  # fmt: skip
    summary.database_bytes = (directory / DATABASE_FILE).stat().st_size
    _backup_redis(directory / REDIS_FILE, summary)
    _backup_models(directory / MODELS_FILE, store, summary)
    index = {
        "format": FORMAT,
        "created_time": datetime.datetime.now(datetime.UTC).isoformat(),
        "active_model_id": summary.active_id,
        "versions": summary.versions,
        "redis_keys": summary.redis_keys,
        "files": {
            name: _sha256(directory / name) for name in (DATABASE_FILE, REDIS_FILE, MODELS_FILE)
        },
    }
    (directory / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    return summary


def _backup_redis(path: pathlib.Path, summary: Summary) -> None:
    with path.open("w") as stream:
        for name, (url, pattern) in _redis_stores().items():
            client = _redis(url)
            for key in _project_keys(client, pattern):
                value = client.dump(key)
                if value is None:  # gone since the scan
                    continue
                ttl = client.pttl(key)
                record = {
                    "store": name,
                    "key": base64.b64encode(key).decode(),
                    "ttl_ms": max(ttl, 0),
                    "value": base64.b64encode(value).decode(),
                }
                stream.write(json.dumps(record) + "\n")
                summary.redis_keys += 1
                summary.schedules += _is_schedule(key)


def _backup_models(path: pathlib.Path, store: ModelStore, summary: Summary) -> None:
    # ACTIVE first: a version is published before it can be activated and cannot be deleted
    # while active, so the version read here is still there when its folder is read.
    summary.active_id = store.active_id()
    with tarfile.open(path, "w") as archive:
        if summary.active_id:
            _add_file(archive, ACTIVE_FILE, f"{summary.active_id}\n".encode())
        for folder in sorted(store.root.iterdir()) if store.root.is_dir() else ():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                manifest, pickles = store.verify(folder.name, libraries=False)
            except (ModelIntegrityError, NotFound, InvalidArgument, OSError) as error:
                if folder.name == summary.active_id:
                    raise BackupError(f"the active model cannot be backed up: {error}") from None
                summary.skipped.append(f"{folder.name} ({error})")
                continue
            # The manifest as verified (its signature covers its content, not its layout).
            manifest_bytes = json.dumps(manifest, indent=2).encode()
            _add_file(archive, f"{manifest['model_id']}/{MANIFEST_FILE}", manifest_bytes)
            for name, data in pickles.items():
                _add_file(archive, f"{manifest['model_id']}/{name}", data)
            summary.versions.append(manifest["model_id"])


def _add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def _sha256(path: pathlib.Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


# Restore


def restore(
    directory: pathlib.Path, store: ModelStore | None = None, *, force: bool = False
) -> Summary:
    """Check the backup and the targets, then put back the database, Redis and the models."""
    store = store or ModelStore()
    index = _read_index(directory)
    summary = Summary(
        database_bytes=(directory / DATABASE_FILE).stat().st_size,
        active_id=index.get("active_model_id"),
    )
    records = _read_redis_records(directory / REDIS_FILE)
    db.ensure_database()
    occupied = _occupied_targets(store, records)
    if occupied and not force:
        verb = "hold" if len(occupied) > 1 else "holds"
        raise BackupError(
            f"nothing was restored: {' and '.join(occupied)} already {verb} data; restore "
            "into empty ones, or add --force to replace what they hold."
        )
    store.root.mkdir(parents=True, exist_ok=True)
    # Unpacked on the volume itself, so that each version moves into place by a rename.
    staging = pathlib.Path(store.root / f".restore-{uuid.uuid4().hex}")
    try:
        _unpack_models(directory / MODELS_FILE, staging, summary)
        _run_tool(
            ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction",
             "--exit-on-error", "--clean", "--if-exists", str(directory / DATABASE_FILE)],
            "pg_restore",
        )  # fmt: skip
        _restore_redis(records, summary)
        _move_models_into_place(staging, store, summary, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _read_index(directory: pathlib.Path) -> dict[str, Any]:
    try:
        index = json.loads((directory / INDEX_FILE).read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory} holds no {INDEX_FILE}: it is not a backup.") from None
    except ValueError as error:
        raise BackupError(f"{directory / INDEX_FILE} is unreadable: {error}") from None
    if index.get("format") != FORMAT:
        raise BackupError(f"{directory} is a backup of format {index.get('format')}, not {FORMAT}.")
    for name in (DATABASE_FILE, REDIS_FILE, MODELS_FILE):
        path = directory / name
        if not path.is_file():
            raise BackupError(f"{path} is missing: the backup is incomplete.")
        if _sha256(path) != index["files"].get(name):
            raise BackupError(f"checksum of {path} does not match {INDEX_FILE}: it changed.")
    return index


def _read_redis_records(path: pathlib.Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["store"] not in _redis_stores():
            raise BackupError(f"{path} names an unknown Redis store {record['store']!r}.")
        records.append(
            {
                **record,
                "key": base64.b64decode(record["key"]),
                "value": base64.b64decode(record["value"]),
            }
        )
    return records


def _occupied_targets(store: ModelStore, records: list[dict[str, Any]]) -> list[str]:
    occupied = []
    if _database_tables():
        occupied.append("the database")
    if any(_project_keys(_redis(url), pattern) for url, pattern in _redis_stores().values()):
        occupied.append("Redis (schedules or accuracies of this deployment)")
    if store.root.is_dir() and any(not p.name.startswith(".") for p in store.root.iterdir()):
        occupied.append(f"the model folder {store.root}")
    return occupied


def _members(archive: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, str | None, str]]:
    """Each member as (member, model id or None for ACTIVE, file name); anything else, a link
    or a path of its own choosing, refuses the whole archive."""
    for member in archive:
        parts = member.name.split("/")
        if member.isfile() and parts == [ACTIVE_FILE]:
            yield member, None, ACTIVE_FILE
            continue
        if member.isfile() and len(parts) == 2 and parts[1] in VERSION_FILES:
            try:
                if parse_model_id(parts[0]) == parts[0]:
                    yield member, parts[0], parts[1]
                    continue
            except InvalidArgument:
                pass
        raise BackupError(f"{MODELS_FILE} holds {member.name!r}, which no backup writes.")


def _unpack_models(path: pathlib.Path, staging: pathlib.Path, summary: Summary) -> None:
    staging.mkdir()
    active = None
    with tarfile.open(path, "r:") as archive:
        for member, model_id, name in _members(archive):
            # _members yields regular files only, which extractfile always opens.
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            if model_id is None:
                active = data.decode("ascii", "replace").strip()
                continue
            (staging / model_id).mkdir(mode=0o755, exist_ok=True)
            (staging / model_id / name).write_bytes(data)
    restored = ModelStore(staging)
    for folder in sorted(staging.iterdir()):
        try:
            manifest, _ = restored.verify(folder.name, libraries=False)
        except (ModelIntegrityError, NotFound) as error:
            raise BackupError(
                f"model {folder.name} in the backup failed its integrity checks, so nothing "
                f"was restored: {error}."
            ) from None
        summary.versions.append(folder.name)
        if stale_libraries(manifest):
            summary.stale.append(folder.name)
    if active is not None and active not in summary.versions:
        raise BackupError("the backup's ACTIVE pointer names no version it holds.")
    summary.active_id = active


def _restore_redis(records: list[dict[str, Any]], summary: Summary) -> None:
    clients = {name: _redis(url) for name, (url, _) in _redis_stores().items()}
    for name, (_, pattern) in _redis_stores().items():
        stale = _project_keys(clients[name], pattern)
        if stale:
            clients[name].delete(*stale)
    for record in records:
        clients[record["store"]].restore(
            record["key"], record["ttl_ms"], record["value"], replace=True
        )
        summary.redis_keys += 1
        summary.schedules += _is_schedule(record["key"])


def _move_models_into_place(
    staging: pathlib.Path, store: ModelStore, summary: Summary, *, force: bool
) -> None:
    """Each verified version by a rename, then ACTIVE by a rename: a serving process sees the
    pointer change only once the version it names is whole in place."""
    trash = []
    for model_id in summary.versions:
        target = store.root / model_id
        if target.exists():
            moved = store.root / f".replaced-{model_id}-{uuid.uuid4().hex}"
            os.rename(target, moved)
            trash.append(moved)
        os.rename(staging / model_id, target)
    if summary.active_id:
        store.point_active(summary.active_id)
    if force:
        for folder in store.root.iterdir():
            if (
                folder.is_dir()
                and not folder.name.startswith(".")
                and (folder.name not in summary.versions)
            ):
                moved = store.root / f".replaced-{folder.name}-{uuid.uuid4().hex}"
                os.rename(folder, moved)
                trash.append(moved)
        if not summary.active_id:
            (store.root / ACTIVE_FILE).unlink(missing_ok=True)
    for folder in trash:
        shutil.rmtree(folder, ignore_errors=True)
