"""A deployment's state in one folder: the database, the project's Redis keys and the model
volume (``python -m algorithm.tools.ops backup DIR``; algorithm.tools.backup_stores describes
the folder, algorithm.tools.restore puts it back).
"""

import base64
import datetime
import io
import json
import pathlib
import tarfile

from algorithm.domain.errors import InvalidArgument, NotFound
from algorithm.domain.store import ACTIVE_FILE, MANIFEST_FILE, ModelIntegrityError, ModelStore
from algorithm.tools.backup_stores import (
    DATABASE_FILE,
    FORMAT,
    INDEX_FILE,
    MODELS_FILE,
    REDIS_FILE,
    BackupError,
    Summary,
    is_schedule,
    project_keys,
    redis_client,
    redis_stores,
    run_tool,
    sha256,
)


def backup(directory: pathlib.Path, store: ModelStore | None = None) -> Summary:
    store = store or ModelStore()
    # The data, and the API tokens' digests: for the operator's eyes only.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: back up into a new folder.")
    summary = Summary()
    run_tool(
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
            name: sha256(directory / name) for name in (DATABASE_FILE, REDIS_FILE, MODELS_FILE)
        },
    }
    (directory / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    return summary


def _backup_redis(path: pathlib.Path, summary: Summary) -> None:
    with path.open("w") as stream:
        for name, (url, pattern) in redis_stores().items():
            client = redis_client(url)
            for key in project_keys(client, pattern):
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
                summary.schedules += is_schedule(key)


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
