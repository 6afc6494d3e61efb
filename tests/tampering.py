"""Ways a model version's files get damaged or replaced, for the loader's refusal tests."""

import hashlib
import hmac
import json
import os
import pathlib
import pickle
import shutil

from common import settings as common_settings


class WritesMarker:
    """Unpickling this creates the file `path`: stands in for any code an attacker runs."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def truncate(folder: pathlib.Path, **_) -> None:
    path = folder / "model.pickle"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def swap_from(folder: pathlib.Path, *, other: pathlib.Path, **_) -> None:
    """Put another version's (valid, signed there) model pickle into this version."""
    shutil.copyfile(other / "model.pickle", folder / "model.pickle")


def tamper_manifest(folder: pathlib.Path, **_) -> None:
    """Claim better metrics without the key to sign them."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["metrics"]["accuracy"] = 1.0
    path.write_text(json.dumps(manifest))


def plant_code(folder: pathlib.Path, *, marker: pathlib.Path, **_) -> None:
    (folder / "model.pickle").write_bytes(pickle.dumps(WritesMarker(marker)))


KINDS = {
    "truncated": truncate,
    "swapped": swap_from,
    "tampered-manifest": tamper_manifest,
    "runs-code": plant_code,
}


def point_active_at(root: pathlib.Path, model_id: str) -> None:
    """Write ACTIVE directly, as someone with write access to the volume could: activation
    itself would already refuse a version whose manifest signature fails."""
    staging = root / ".ACTIVE-test"
    staging.write_text(f"{model_id}\n")
    os.replace(staging, root / "ACTIVE")


def resign(folder: pathlib.Path, change) -> None:
    """Change a version's manifest and sign it again with the deployment's key: what a worker
    running other library versions would have written."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    unsigned = {key: value for key, value in manifest.items() if key != "signature"}
    payload = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    key = common_settings.MODEL_SIGNING_KEY.encode()
    manifest["signature"] = hmac.new(key, payload, hashlib.sha256).hexdigest()
    path.write_text(json.dumps(manifest, indent=2))
