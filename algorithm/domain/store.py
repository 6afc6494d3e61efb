"""Model versions on MODEL_DIR: one folder per version, published and activated atomically.

MODEL_DIR/<model_id>/model.pickle, vectorizer.pickle and manifest.json. A version is
written into a hidden temporary folder and renamed into place, so a reader never sees a
half-written one; the file MODEL_DIR/ACTIVE names the active version and is replaced by a
rename too. Nothing is unpickled before its manifest signature and checksums match.
"""

import datetime
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import pathlib
import pickle
import platform
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy
import scipy
import sklearn

from algorithm import settings
from algorithm.domain import fast_scoring, ml, traffic
from algorithm.domain.errors import FailedPrecondition, InvalidArgument, NotFound, parse_uuid
from algorithm.domain.files import ModelIntegrityError as ModelIntegrityError
from algorithm.domain.files import fsync_dir, read_regular_file, write_durably
from algorithm.domain.records import Manifest, TrainingOutcome
from common import settings as common_settings

logger = logging.getLogger(__name__)

# The libraries whose objects are in the pickles: scikit-learn only promises to load a model
# with the versions that saved it.
PICKLED_LIBRARIES = ("scikit-learn", "numpy", "scipy")

MODEL_FILE = "model.pickle"
VECTORIZER_FILE = "vectorizer.pickle"
MANIFEST_FILE = "manifest.json"
ACTIVE_FILE = "ACTIVE"
# A model id and a newline, with room for a carriage return or spaces.
ACTIVE_MAX_BYTES = 64
_BAD_POINTER = "The ACTIVE pointer does not name a model version: it must hold one model id."


class VersionExists(FileExistsError):
    """A version with this id is already published; it is left as it was."""


@dataclass(frozen=True)
class LoadedModel:
    model_id: str
    manifest: Manifest
    vectorizer: Any
    classifier: Any
    # Set when the fast runtime serves this version (fast_scoring.for_version).
    scorer: fast_scoring.FastScorer | None = None

    def predict(
        self, texts: Sequence[str], token_counts: list[tuple[int, int]] | None = None
    ) -> list[fast_scoring.Prediction]:
        """What ml.predict returns, from the runtime serving this version (scikit-learn past the
        fast one's batch bound, then faster); the fast one's token counts go to token_counts."""
        if self.scorer is not None and len(texts) <= fast_scoring.MAX_FAST_TEXTS:
            return self.scorer.predict_counted(texts, [] if token_counts is None else token_counts)
        return ml.predict(self.vectorizer, self.classifier, texts)

    @property
    def runtime(self) -> str:
        """The runtime that serves this version: fast_linear or scikit-learn."""
        return fast_scoring.FAST_RUNTIME if self.scorer else fast_scoring.SCIKIT_LEARN_RUNTIME


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def parse_model_id(value: str) -> str:
    """Return the canonical form of a model id, which is also its folder name."""
    return str(parse_uuid(value, "model_id"))


def _sign(manifest: Mapping[str, object], signing_key: str = "") -> str:
    unsigned = {key: value for key, value in manifest.items() if key != "signature"}
    payload = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    signing_key = signing_key or common_settings.MODEL_SIGNING_KEY
    return hmac.new(signing_key.encode(), payload, hashlib.sha256).hexdigest()


def _signed_with_current_key(manifest: Mapping[str, object]) -> bool:
    return hmac.compare_digest(str(manifest.get("signature", "")), _sign(manifest))


def _signature_matches(manifest: Mapping[str, object]) -> bool:
    """Signed with MODEL_SIGNING_KEY, or, while a rotation is under way, with
    MODEL_SIGNING_KEY_PREVIOUS (docs/operations.md: rotating the signing key)."""
    if _signed_with_current_key(manifest):
        return True
    previous = common_settings.MODEL_SIGNING_KEY_PREVIOUS
    return bool(previous) and hmac.compare_digest(
        str(manifest.get("signature", "")), _sign(manifest, previous)
    )


def stale_libraries(manifest: Manifest) -> list[str]:
    """The pickled libraries whose version in the manifest is not this process's."""
    recorded = manifest.get("library_versions") or {}
    running = library_versions()
    return [library for library in PICKLED_LIBRARIES if recorded.get(library) != running[library]]


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelStore:
    def __init__(self, root: pathlib.Path | None = None):
        self.root = pathlib.Path(root or settings.MODEL_DIR)

    def path(self, model_id: str) -> pathlib.Path:
        return self.root / parse_model_id(model_id)

    def exists(self, model_id: str) -> bool:
        return (self.path(model_id) / MANIFEST_FILE).is_file()

    def publish(
        self, model_id: str, vectorizer: Any, classifier: Any, outcome: TrainingOutcome
    ) -> Manifest:
        """Write a version's files and make the folder appear at once, complete."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(model_id)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=self.root))
        try:
            files = {}
            for name, obj in ((MODEL_FILE, classifier), (VECTORIZER_FILE, vectorizer)):
                write_durably(staging / name, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
                files[name] = _sha256(staging / name)
            manifest: Manifest = {
                **outcome,
                "model_id": final.name,
                "files": files,
                "library_versions": library_versions(),
                "created_time": datetime.datetime.now(datetime.UTC).isoformat(),
                "signature": "",
            }
            manifest["signature"] = _sign(manifest)
            write_durably(staging / MANIFEST_FILE, json.dumps(manifest, indent=2).encode())
            staging.chmod(0o755)
            try:
                os.rename(staging, final)
            except OSError as error:
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise VersionExists(f"Model {final.name} is already published.") from error
                raise
            fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return manifest

    def read_manifest(self, model_id: str) -> Manifest:
        """A version's manifest, once its folder, its signature and its id check out."""
        folder = self.path(model_id)
        if folder.is_symlink():
            raise ModelIntegrityError(
                f"the folder of {folder.name} is a symbolic link", "file_type"
            )
        try:
            manifest = json.loads(read_regular_file(folder / MANIFEST_FILE))
        except FileNotFoundError:
            raise NotFound(f"Model {model_id} does not exist.") from None
        except (OSError, ValueError) as error:
            raise ModelIntegrityError(
                f"manifest of {model_id} is unreadable: {error}", "manifest"
            ) from None
        except ModelIntegrityError as error:
            raise ModelIntegrityError(f"manifest of {model_id}: {error}", error.check) from None
        if not isinstance(manifest, dict):
            raise ModelIntegrityError(
                f"manifest of {model_id} is unreadable: not a JSON object", "manifest"
            )
        if not _signature_matches(manifest):
            raise ModelIntegrityError(
                f"manifest signature of {model_id} does not match", "signature"
            )
        if manifest.get("model_id") != folder.name:
            # A whole version copied under another id: signed, but not this version.
            raise ModelIntegrityError(
                f"the manifest in folder {folder.name} belongs to model {manifest.get('model_id')}",
                "manifest",
            )
        # Signed by this service's key: a manifest it wrote, from a Manifest.
        return cast(Manifest, manifest)

    def list_manifests(self) -> list[Manifest]:
        """Every version's verified manifest, newest first; unreadable ones are logged, left out."""
        if not self.root.is_dir():
            return []
        manifests = []
        for path in self.root.iterdir():
            if path.name.startswith(".") or not path.is_dir():
                continue
            try:
                manifests.append(self.read_manifest(path.name))
            except (ModelIntegrityError, NotFound, InvalidArgument) as error:
                logger.warning("Left %s out of the model list: %s", path.name, error)
        return sorted(manifests, key=lambda manifest: manifest["created_time"], reverse=True)

    def delete(self, model_id: str) -> None:
        """Remove a version's folder at once (one rename), then its files."""
        model_id = parse_model_id(model_id)
        if self.active_id() == model_id:
            raise FailedPrecondition(
                f"Model {model_id} is the active version: activate another version first, "
                "then delete this one."
            )
        if model_id in self.read_traffic().named():
            raise FailedPrecondition(
                f"Model {model_id} takes part in the traffic split (canary or shadow): remove it "
                "from the traffic first (DELETE /api/traffic/), then delete it."
            )
        folder = self.path(model_id)
        if not folder.is_dir():
            raise NotFound(f"Model {model_id} does not exist.")
        trash = self.root / f".deleted-{model_id}-{uuid.uuid4().hex}"
        os.rename(folder, trash)
        shutil.rmtree(trash)

    def load(self, model_id: str) -> LoadedModel:
        """Verify a version's folder, manifest, library versions and checksums, then unpickle it."""
        model_id = parse_model_id(model_id)
        manifest, data = self.verify(model_id)
        # Only now, with both checksums signed at training time matching: these are the very
        # files the worker wrote.
        objects = {name: pickle.loads(blob) for name, blob in data.items()}
        vectorizer, classifier = objects[VECTORIZER_FILE], objects[MODEL_FILE]
        scorer = fast_scoring.for_version(manifest, vectorizer, classifier)
        return LoadedModel(model_id, manifest, vectorizer, classifier, scorer)

    def verify(self, model_id: str, *, libraries: bool = True) -> tuple[Manifest, dict[str, bytes]]:
        """A version's manifest and pickled bytes, once every check a load makes has passed
        (without libraries=True's, the library versions, for a version kept but not loaded)."""
        folder = self.path(model_id)
        manifest = self.read_manifest(model_id)
        for library in stale_libraries(manifest) if libraries else ():
            recorded = (manifest.get("library_versions") or {}).get(library)
            raise ModelIntegrityError(
                f"{model_id} was trained with {library} {recorded}, this process runs "
                f"{library_versions()[library]}; retrain it (python -m algorithm.tools.ops "
                "retrain-stale)",
                "library_versions",
            )
        data = {}
        for name in (MODEL_FILE, VECTORIZER_FILE):
            try:
                data[name] = read_regular_file(folder / name)
            except FileNotFoundError:
                raise ModelIntegrityError(
                    f"{name} of {model_id} is missing", "missing_file"
                ) from None
            except ModelIntegrityError as error:
                raise ModelIntegrityError(f"{error} in {model_id}", error.check) from None
            if hashlib.sha256(data[name]).hexdigest() != manifest["files"].get(name):
                raise ModelIntegrityError(
                    f"checksum of {name} of {model_id} does not match", "checksum"
                )
        return manifest, data

    def resign(self, model_id: str) -> bool:
        """Sign a version's manifest with MODEL_SIGNING_KEY, if the previous key signed it;
        whether it changed. The manifest is replaced by a rename, so a reader sees it signed
        with one key or the other, both accepted while the rotation is under way."""
        manifest = self.read_manifest(model_id)
        if _signed_with_current_key(manifest):
            return False
        manifest["signature"] = _sign(manifest)
        folder = self.path(model_id)
        staging = folder / f".{MANIFEST_FILE}-{uuid.uuid4().hex}"
        try:
            write_durably(staging, json.dumps(manifest, indent=2).encode())
            staging.chmod(stat.S_IMODE((folder / MANIFEST_FILE).stat().st_mode))
            os.replace(staging, folder / MANIFEST_FILE)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        fsync_dir(folder)
        return True

    def activate(self, model_id: str) -> None:
        """Point ACTIVE at a version with one atomic rename, once it passes every check a
        serving process makes before loading it: a version they would refuse is never made
        active."""
        model_id = parse_model_id(model_id)
        try:
            self.verify(model_id)
        except ModelIntegrityError as error:
            raise FailedPrecondition(
                f"Model {model_id} failed its integrity checks and cannot be activated: {error}."
            ) from error
        self.update_traffic(lambda current: current.without(model_id))  # it answers all now
        self.point_active(model_id)

    def point_active(self, model_id: str) -> None:
        """Make ACTIVE name a version with one atomic rename, checking nothing: for a restore,
        which puts back the pointer a backup recorded (activate checks first)."""
        self._replace(ACTIVE_FILE, f"{model_id}\n".encode())

    def _replace(self, name: str, data: bytes) -> None:
        pointer = self.root / name
        staging = pointer.with_name(f".{name}-{uuid.uuid4().hex}")
        write_durably(staging, data)
        os.replace(staging, pointer)
        fsync_dir(self.root)

    def read_traffic(self) -> traffic.Traffic:
        """The canary and shadow TRAFFIC names; none without the file. Opened as ACTIVE is."""
        try:
            data = read_regular_file(self.root / traffic.TRAFFIC_FILE, traffic.MAX_FILE_BYTES + 1)
            return traffic.parse(data)
        except FileNotFoundError:
            return traffic.NONE
        except (ModelIntegrityError, OSError, ValueError) as error:
            message = f"The TRAFFIC file is not one this service wrote ({error}); set it again"
            raise ModelIntegrityError(message, "traffic") from None

    def update_traffic(
        self, change: Callable[[traffic.Traffic], traffic.Traffic]
    ) -> tuple[traffic.Traffic, traffic.Traffic]:
        """Replace TRAFFIC by change(current), under a lock so that two writers (an admin, the
        rollback check, an activation) never lose each other's change; (before, after)."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.root, os.O_RDONLY)  # the folder itself: no lock file to leave
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = self.read_traffic()
            except ModelIntegrityError:
                current = traffic.NONE
            if (changed := change(current)) != current:
                self._replace(traffic.TRAFFIC_FILE, traffic.dump(changed))
            return current, changed
        finally:
            os.close(lock)  # and with it the lock

    def active_id(self) -> str | None:
        """The version ACTIVE names; None if there is none, or if the pointer is bad (serving
        processes say why: see read_active_id)."""
        try:
            return self.read_active_id()
        except ModelIntegrityError:
            return None

    def read_active_id(self) -> str | None:
        """The version ACTIVE names, or None before the first activation.

        Whoever can write the model volume controls the pointer, so it is opened without
        following links or blocking, at most ACTIVE_MAX_BYTES of it are read, and what it
        holds is never quoted in an error: pointed at /proc/self/environ, it would be the
        service's secrets.
        """
        try:
            data = read_regular_file(self.root / ACTIVE_FILE, ACTIVE_MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except (ModelIntegrityError, OSError):
            raise ModelIntegrityError(_BAD_POINTER, "active_pointer") from None
        try:
            if len(data) > ACTIVE_MAX_BYTES:
                raise ValueError
            return str(uuid.UUID(data.decode("ascii").strip()))
        except ValueError:
            raise ModelIntegrityError(_BAD_POINTER, "active_pointer") from None

    def require_active_id(self) -> str:
        model_id = self.active_id()
        if model_id is None:
            raise FailedPrecondition(
                "No model has been trained yet: add labelled data, then start training "
                "(POST /api/train/) and wait for the job to succeed."
            )
        return model_id
