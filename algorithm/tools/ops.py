"""Day-two operations on a deployment, run where the algorithm service runs (it reaches the
database, Redis and the model volume, and holds the signing key). docs/operations.md, "Day
two", gives the steps around each for make run, compose and Kubernetes.

  backup DIR           the database, the schedules in Redis and the model versions, into DIR
  restore DIR          put them back (refuses targets that hold data, unless --force)
  resign-models        sign every manifest with MODEL_SIGNING_KEY (rotating the signing key)
  retrain-stale        retrain the active version if this image's scikit-learn, numpy or
                       scipy differ from those that pickled it (--all: every version kept)
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from algorithm.domain import jobs, ml, training
from algorithm.domain.records import Manifest
from algorithm.domain.store import ModelIntegrityError, ModelStore, stale_libraries
from algorithm.tools.backup import backup
from algorithm.tools.backup_stores import DATABASE_FILE, BackupError
from algorithm.tools.cli import EXIT_OK, EXIT_USAGE, fail
from algorithm.tools.restore import restore
from common.credentials import MissingSecret

EXIT_FAILED = 1


class OperationFailed(Exception):
    pass


def run_backup(store: ModelStore, args: argparse.Namespace) -> None:
    summary = backup(args.directory, store)
    print(f"Backed up to {args.directory}:")
    print(f"  database: {summary.database_bytes} bytes ({DATABASE_FILE})")
    print(f"  Redis: {summary.redis_keys} keys, {summary.schedules} of them schedules")
    print(
        f"  models: {len(summary.versions)} versions, active {summary.active_id or 'none'}"
        + "".join(f"\n  left out, failing its checks: {skipped}" for skipped in summary.skipped)
    )


def run_restore(store: ModelStore, args: argparse.Namespace) -> None:
    summary = restore(args.directory, store, force=args.force)
    print(f"Restored from {args.directory}:")
    print(f"  database: {summary.database_bytes} bytes restored")
    print(f"  Redis: {summary.redis_keys} keys, {summary.schedules} of them schedules")
    print(
        f"  models: {len(summary.versions)} versions, signatures and checksums verified; "
        f"active {summary.active_id or 'none'}"
    )
    if summary.stale:
        print(
            f"  {len(summary.stale)} versions were pickled with other library versions than "
            "this image's: run `python -m algorithm.tools.ops retrain-stale --all`."
        )


def run_resign(store: ModelStore, args: argparse.Namespace) -> None:
    changed = kept = 0
    failures = []
    for folder in sorted(store.root.iterdir()) if store.root.is_dir() else ():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            if store.resign(folder.name):
                changed += 1
            else:
                kept += 1
        except ModelIntegrityError as error:
            failures.append(f"{folder.name}: {error}")
    print(
        f"Signed {changed} manifests with MODEL_SIGNING_KEY; {kept} already were."
        + "".join(f"\n  not signed: {failure}" for failure in failures)
    )
    if failures:
        raise OperationFailed(
            f"{len(failures)} versions are signed by neither MODEL_SIGNING_KEY nor "
            "MODEL_SIGNING_KEY_PREVIOUS; keep the previous key until they are re-signed or "
            "deleted."
        )


def run_retrain_stale(store: ModelStore, args: argparse.Namespace) -> None:
    active_id = store.read_active_id()
    manifests = store.list_manifests()
    # A version kept beside its replacement stays for a rollback to the image that can load
    # it; it is not retrained again.
    replaced = {
        manifest.get("retrained_from") for manifest in manifests if not stale_libraries(manifest)
    }
    stale = [
        manifest
        for manifest in manifests
        if stale_libraries(manifest)
        and (
            manifest["model_id"] == active_id or (args.all and manifest["model_id"] not in replaced)
        )
    ]
    if not stale:
        if active_id is None and not args.all:
            print("No model is active yet: nothing to retrain.")
        else:
            print(
                "No model version needs retraining: each was pickled with this image's "
                "libraries, or was retrained already."
                if args.all
                else "The active model needs no retraining: this image's libraries are those "
                "that pickled it."
            )
        return
    # The active version last: the others never become active, even for a moment.
    stale.sort(key=lambda manifest: manifest["model_id"] == active_id)
    for manifest in stale:
        _retrain(store, manifest, activate=manifest["model_id"] == active_id)


def _retrain(store: ModelStore, manifest: Manifest, *, activate: bool) -> None:
    old_id, algorithm = manifest["model_id"], manifest["algorithm"]
    recorded = manifest.get("library_versions") or {}
    versions = ", ".join(
        f"{library} {recorded.get(library)}" for library in stale_libraries(manifest)
    )
    job, _ = jobs.job_create(
        kind="train",
        algorithm=algorithm,
        parameters=ml.resolve_parameters(algorithm, manifest["parameters"]),
    )
    # In this process, synchronously: done before the command returns, whether or not a
    # worker runs (a release step runs before any does).
    training.run_training_job(str(job["id"]), store, activate=activate, retrained_from=old_id)
    job = jobs.job_get(job["id"])
    if job["state"] != "succeeded":
        raise OperationFailed(f"retraining model {old_id} failed: {job['error']}")
    new = store.read_manifest(str(job["model_id"]))
    parameters = ", ".join(f"{name}={value}" for name, value in new["parameters"].items())
    print(
        f"Model {old_id} ({versions}) retrained as {new['model_id']} ({algorithm}, "
        f"{parameters}) on {new['row_count']} rows"
        + ("; it is the active model now." if activate else ".")
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m algorithm.tools.ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    sub = commands.add_parser("backup", help="back up the database, Redis and the models")
    sub.add_argument("directory", type=Path, metavar="DIR", help="a new or empty folder")
    sub.set_defaults(run=run_backup)

    sub = commands.add_parser("restore", help="restore a backup")
    sub.add_argument("directory", type=Path, metavar="DIR", help="a folder `backup` wrote")
    sub.add_argument(
        "--force",
        action="store_true",
        help="replace what the database, Redis and the model folder hold",
    )
    sub.set_defaults(run=run_restore)

    sub = commands.add_parser(
        "resign-models", help="sign every model manifest with MODEL_SIGNING_KEY"
    )
    sub.set_defaults(run=run_resign)

    sub = commands.add_parser(
        "retrain-stale",
        help="retrain the active version if this image's libraries are not those that pickled it",
    )
    sub.add_argument("--all", action="store_true", help="every version kept, not only the active")
    sub.set_defaults(run=run_retrain_stale)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(ModelStore(), args)
    except (BackupError, OperationFailed, ModelIntegrityError) as error:
        return fail(EXIT_FAILED, str(error))
    except MissingSecret as error:
        return fail(EXIT_USAGE, str(error))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
