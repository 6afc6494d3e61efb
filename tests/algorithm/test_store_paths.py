"""The loader checks where a version's files are and what they are before reading them:
no symbolic links, no stand-ins for regular files, no version posing as another one, no
libraries other than the ones that pickled it. Nothing refused is ever unpickled."""

import hashlib
import hmac
import json
import os
import shutil
import time
import uuid

import numpy
import pytest
import scipy

from algorithm.domain.errors import FailedPrecondition
from algorithm.domain.store import ModelIntegrityError, ModelStore
from common import settings as common_settings


def _resign(store, model_id, change):
    path = store.root / model_id / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    unsigned = {key: value for key, value in manifest.items() if key != "signature"}
    payload = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    manifest["signature"] = hmac.new(
        common_settings.MODEL_SIGNING_KEY.encode(), payload, hashlib.sha256
    ).hexdigest()
    path.write_text(json.dumps(manifest))


def _refused(store, model_id, match):
    with pytest.raises(ModelIntegrityError, match=match):
        store.load(model_id)


def test_a_version_folder_that_is_a_symbolic_link_is_refused(tmp_path, store, publish, unpickled):
    model_id = publish()
    elsewhere = tmp_path / "elsewhere"
    shutil.move(store.root / model_id, elsewhere)
    (store.root / model_id).symlink_to(elsewhere, target_is_directory=True)

    _refused(store, model_id, f"the folder of {model_id} is a symbolic link")
    with pytest.raises(FailedPrecondition, match="symbolic link"):
        store.activate(model_id)
    assert store.list_manifests() == []
    assert store.active_id() is None
    assert unpickled == []


def test_a_manifest_that_is_a_symbolic_link_is_refused(tmp_path, store, publish, unpickled):
    model_id = publish()
    manifest = store.root / model_id / "manifest.json"
    shutil.copyfile(manifest, tmp_path / "manifest.json")  # the same, valid, signed bytes
    manifest.unlink()
    manifest.symlink_to(tmp_path / "manifest.json")

    _refused(store, model_id, r"manifest of .*: manifest\.json is a symbolic link")
    assert unpickled == []


def test_a_pickle_copied_from_another_version_is_refused(
    store, publish, other_model, metadata, unpickled
):
    model_id = publish()
    other_id = str(uuid.uuid4())
    store.publish(other_id, other_model.vectorizer, other_model.classifier, metadata)
    shutil.copyfile(store.root / other_id / "model.pickle", store.root / model_id / "model.pickle")

    _refused(store, model_id, rf"checksum of model\.pickle of {model_id} does not match")
    assert unpickled == []
    assert store.load(other_id).model_id == other_id


def test_a_whole_version_copied_under_another_id_is_refused(store, publish, unpickled):
    model_id = publish()
    posing_id = str(uuid.uuid4())
    shutil.copytree(store.root / model_id, store.root / posing_id)

    _refused(store, posing_id, f"the manifest in folder {posing_id} belongs to model {model_id}")
    assert [manifest["model_id"] for manifest in store.list_manifests()] == [model_id]
    assert unpickled == []


@pytest.mark.parametrize(("library", "running"), [("numpy", numpy), ("scipy", scipy)])
def test_a_version_pickled_with_other_library_versions_is_refused(
    store, publish, unpickled, library, running
):
    model_id = publish()
    _resign(store, model_id, lambda manifest: manifest["library_versions"].update({library: "0.1"}))

    with pytest.raises(ModelIntegrityError) as caught:
        store.load(model_id)
    assert str(caught.value) == (
        f"{model_id} was trained with {library} 0.1, this process runs {running.__version__}; "
        "retrain it (python -m algorithm.tools.ops retrain-stale)"
    )
    assert unpickled == []


@pytest.mark.parametrize(
    ("replace", "reason"),
    [
        (lambda path: None, "is missing"),
        (os.mkdir, "is not a regular file"),
        (os.mkfifo, "is not a regular file"),
    ],
    ids=["missing", "directory", "fifo"],
)
def test_a_pickle_that_is_not_a_regular_file_is_refused_at_once(
    store, publish, unpickled, replace, reason
):
    model_id = publish()
    path = store.root / model_id / "vectorizer.pickle"
    path.unlink()
    replace(path)

    started = time.monotonic()
    _refused(store, model_id, f"vectorizer.pickle .*{reason}")
    assert time.monotonic() - started < 5  # a FIFO must not block the loader
    assert unpickled == []


def test_a_store_whose_root_is_reached_through_a_link_still_loads(tmp_path, tiny_model, metadata):
    # MODEL_DIR itself may be a link (a mounted volume); only what is inside it is checked.
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    store = ModelStore(tmp_path / "link")
    model_id = str(uuid.uuid4())
    store.publish(model_id, tiny_model.vectorizer, tiny_model.classifier, metadata)
    assert store.load(model_id).model_id == model_id
