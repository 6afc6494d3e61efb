"""A backup folder put back: the database, the project's Redis keys and the model volume
(``python -m algorithm.tools.ops restore DIR``). A restore checks everything before it changes
anything: the checksums, then every model version's signature and file checksums, unpacked
beside the live ones; it refuses targets that already hold data unless told to replace them
(force).
"""

import base64
import json
import os
import pathlib
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

from algorithm.domain import db
from algorithm.domain.errors import InvalidArgument, NotFound
from algorithm.domain.store import (
    ACTIVE_FILE,
    ModelIntegrityError,
    ModelStore,
    parse_model_id,
    stale_libraries,
)
from algorithm.tools.backup_stores import (
    DATABASE_FILE,
    FORMAT,
    INDEX_FILE,
    MODELS_FILE,
    REDIS_FILE,
    VERSION_FILES,
    BackupError,
    Summary,
    is_schedule,
    project_keys,
    redis_client,
    redis_stores,
    run_tool,
    sha256,
)


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
        run_tool(
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
        if sha256(path) != index["files"].get(name):
            raise BackupError(f"checksum of {path} does not match {INDEX_FILE}: it changed.")
    return index


def _read_redis_records(path: pathlib.Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["store"] not in redis_stores():
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
    if any(project_keys(redis_client(url), pattern) for url, pattern in redis_stores().values()):
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
    clients = {name: redis_client(url) for name, (url, _) in redis_stores().items()}
    for name, (_, pattern) in redis_stores().items():
        stale = project_keys(clients[name], pattern)
        if stale:
            clients[name].delete(*stale)
    for record in records:
        clients[record["store"]].restore(
            record["key"], record["ttl_ms"], record["value"], replace=True
        )
        summary.redis_keys += 1
        summary.schedules += is_schedule(record["key"])


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


def _database_tables() -> int:
    conn = db.connect()
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            return int(db.fetch_one(cursor)[0])
    finally:
        conn.close()
