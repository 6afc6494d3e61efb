"""The model store: signed manifests, checksums, atomic publish and activation, refusals."""

import datetime
import hashlib
import hmac
import json
import os
import pickle
import shutil
import uuid

import numpy
import pytest
import scipy
import sklearn

from algorithm.domain import ml
from algorithm.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from algorithm.domain.store import ModelIntegrityError, ModelStore, VersionExists
from common import settings as common_settings

FILES = {"model.pickle", "vectorizer.pickle", "manifest.json"}


def _sign(manifest, key):
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    payload = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def _rewrite_manifest(store, model_id, change, *, resign):
    path = store.root / model_id / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    if resign:
        manifest["signature"] = _sign(manifest, common_settings.MODEL_SIGNING_KEY)
    path.write_text(json.dumps(manifest, indent=2))


class CreatesMarker:
    """Unpickling this creates a folder at `path`: stands in for arbitrary code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


# publish and load


def test_publish_then_load_round_trips_the_predictions(store, tiny_model):
    model_id = str(uuid.uuid4())
    store.publish(model_id, tiny_model.vectorizer, tiny_model.classifier, {"labels": ["x"]})
    loaded = store.load(model_id)
    texts = ["olur", "hayır", "tabii", "asla", "", "something else"]
    assert loaded.model_id == model_id
    assert ml.predict(loaded.vectorizer, loaded.classifier, texts) == ml.predict(
        tiny_model.vectorizer, tiny_model.classifier, texts
    )
    assert loaded.vectorizer is not tiny_model.vectorizer
    assert store.exists(model_id)


def test_manifest_records_checksums_metadata_versions_and_a_signature(store, tiny_model, metadata):
    model_id = str(uuid.uuid4())
    returned = store.publish(model_id, tiny_model.vectorizer, tiny_model.classifier, metadata)
    folder = store.root / model_id
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == returned
    assert store.read_manifest(model_id) == returned

    assert on_disk["model_id"] == model_id
    assert on_disk["files"] == {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("model.pickle", "vectorizer.pickle")
    }
    assert on_disk["algorithm"] == "linear_svm"
    assert on_disk["parameters"] == {"C": 1.0, "ngram_max": 1}
    assert on_disk["labels"] == ["Confirmation_No", "Confirmation_Yes"]
    assert on_disk["metrics"] == json.loads(json.dumps(tiny_model.metrics))
    assert on_disk["library_versions"]["scikit-learn"] == sklearn.__version__
    assert on_disk["library_versions"]["numpy"] == numpy.__version__
    assert on_disk["library_versions"]["scipy"] == scipy.__version__
    assert on_disk["library_versions"]["python"].startswith("3.11.")
    created = datetime.datetime.fromisoformat(on_disk["created_time"])
    assert created.tzinfo is not None
    assert abs(datetime.datetime.now(datetime.UTC) - created) < datetime.timedelta(minutes=1)
    assert on_disk["signature"] == _sign(on_disk, common_settings.MODEL_SIGNING_KEY)


def test_publish_leaves_only_the_version_folder_behind(store, publish):
    model_id = publish()
    assert [path.name for path in store.root.iterdir()] == [model_id]
    assert {path.name for path in (store.root / model_id).iterdir()} == FILES
    assert (store.root / model_id).stat().st_mode & 0o777 == 0o755


def test_publish_that_fails_half_way_leaves_nothing_behind(
    store, tiny_model, metadata, monkeypatch
):
    real_dumps = pickle.dumps
    calls = []

    def failing_second_dumps(obj, *args, **kwargs):
        calls.append(type(obj).__name__)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(pickle, "dumps", failing_second_dumps)
    model_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.publish(model_id, tiny_model.vectorizer, tiny_model.classifier, metadata)
    assert len(calls) == 2
    assert list(store.root.iterdir()) == []
    assert not store.exists(model_id)
    with pytest.raises(NotFound):
        store.load(model_id)


def test_publishing_an_existing_id_again_fails_and_keeps_the_first_version(
    store, publish, tiny_model, metadata
):
    model_id = publish()
    before = (store.root / model_id / "manifest.json").read_bytes()
    with pytest.raises(VersionExists):
        store.publish(model_id, tiny_model.vectorizer, tiny_model.classifier, {"other": 1})
    assert [path.name for path in store.root.iterdir()] == [model_id]
    assert (store.root / model_id / "manifest.json").read_bytes() == before


# activation


def test_activate_points_active_at_the_version(store, publish):
    first, second = publish(), publish()
    assert store.active_id() is None
    store.activate(first)
    assert store.active_id() == first
    store.activate(second.upper())
    assert store.active_id() == second
    assert (store.root / "ACTIVE").read_text() == f"{second}\n"
    assert sorted(path.name for path in store.root.iterdir()) == sorted(["ACTIVE", first, second])
    assert store.require_active_id() == second


def test_activating_an_unknown_version_is_refused_and_changes_nothing(store, publish):
    model_id = publish()
    store.activate(model_id)
    unknown = str(uuid.uuid4())
    with pytest.raises(NotFound) as caught:
        store.activate(unknown)
    assert unknown in caught.value.message
    assert store.active_id() == model_id


@pytest.mark.parametrize("create_root", [True, False])
def test_require_active_id_on_an_empty_store_fails_the_precondition(tmp_path, create_root):
    root = tmp_path / "models"
    if create_root:
        root.mkdir()
    store = ModelStore(root)
    assert store.active_id() is None
    with pytest.raises(FailedPrecondition) as caught:
        store.require_active_id()
    assert caught.value.message.startswith("No model has been trained yet")


# ids


def test_loading_an_unknown_id_is_not_found(store, publish):
    publish()
    unknown = str(uuid.uuid4())
    with pytest.raises(NotFound) as caught:
        store.load(unknown)
    assert caught.value.message == f"Model {unknown} does not exist."
    with pytest.raises(NotFound):
        store.read_manifest(unknown)
    assert not store.exists(unknown)


def test_ids_are_canonicalised(store, publish):
    model_id = publish()
    for spelling in (model_id.upper(), model_id.replace("-", ""), f"{{{model_id}}}"):
        assert store.load(spelling).model_id == model_id


@pytest.mark.parametrize(
    "bad_id", ["", "x", "../x", "..", "/etc/passwd", "ACTIVE", "12345678-1234", None, 42]
)
def test_a_non_uuid_id_is_an_invalid_argument(store, publish, bad_id):
    publish()
    for call in (store.load, store.read_manifest, store.exists, store.activate, store.path):
        with pytest.raises(InvalidArgument) as caught:
            call(bad_id)
        assert caught.value.message == f"model_id must be a UUID, got {bad_id!r}."


def test_path_traversal_ids_never_reach_a_version_outside_the_root(
    tmp_path, store, tiny_model, metadata, unpickled
):
    outside = ModelStore(tmp_path / "outside")
    model_id = str(uuid.uuid4())
    outside.publish(model_id, tiny_model.vectorizer, tiny_model.classifier, metadata)
    store.root.mkdir()
    for traversal in (f"../outside/{model_id}", str(outside.root / model_id)):
        with pytest.raises(InvalidArgument):
            store.load(traversal)
        with pytest.raises(InvalidArgument):
            store.activate(traversal)
    assert unpickled == []
    assert list(store.root.iterdir()) == []


# refusals: ModelIntegrityError and nothing unpickled


def test_a_truncated_model_pickle_is_refused(store, publish, unpickled):
    model_id = publish()
    path = store.root / model_id / "model.pickle"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelIntegrityError, match=r"checksum of model\.pickle"):
        store.load(model_id)
    assert unpickled == []


def test_a_model_pickle_swapped_for_another_valid_pickle_is_refused(
    store, publish, tiny_model, unpickled
):
    model_id = publish()
    folder = store.root / model_id
    (folder / "model.pickle").write_bytes(pickle.dumps(tiny_model.vectorizer))
    with pytest.raises(ModelIntegrityError, match=r"checksum of model\.pickle"):
        store.load(model_id)
    assert unpickled == []


def test_model_and_vectorizer_pickles_swapped_with_each_other_are_refused(
    store, publish, unpickled
):
    model_id = publish()
    folder = store.root / model_id
    model, vectorizer = folder / "model.pickle", folder / "vectorizer.pickle"
    model_bytes = model.read_bytes()
    model.write_bytes(vectorizer.read_bytes())
    vectorizer.write_bytes(model_bytes)
    with pytest.raises(ModelIntegrityError, match=r"checksum of model\.pickle"):
        store.load(model_id)
    assert unpickled == []


def test_a_manifest_edited_after_signing_is_refused(store, publish, unpickled):
    model_id = publish()

    def inflate_accuracy(manifest):
        manifest["metrics"]["accuracy"] = 1.0

    _rewrite_manifest(store, model_id, inflate_accuracy, resign=False)
    with pytest.raises(ModelIntegrityError, match="signature"):
        store.load(model_id)
    with pytest.raises(ModelIntegrityError, match="signature"):
        store.read_manifest(model_id)
    assert unpickled == []


def test_a_manifest_signed_with_another_key_is_refused(store, publish, monkeypatch, unpickled):
    monkeypatch.setattr(common_settings, "MODEL_SIGNING_KEY", "someone-else's-key")
    model_id = publish()
    monkeypatch.setattr(common_settings, "MODEL_SIGNING_KEY", "the-deployment-key")
    with pytest.raises(ModelIntegrityError, match="signature"):
        store.load(model_id)
    assert unpickled == []
    monkeypatch.setattr(common_settings, "MODEL_SIGNING_KEY", "someone-else's-key")
    assert store.load(model_id).model_id == model_id


@pytest.mark.parametrize("content", ["{not json", "[]"], ids=["not-json", "not-an-object"])
def test_an_unreadable_manifest_is_refused(store, publish, unpickled, content):
    model_id = publish()
    (store.root / model_id / "manifest.json").write_text(content)
    with pytest.raises(ModelIntegrityError, match="unreadable"):
        store.load(model_id)
    assert unpickled == []


@pytest.mark.parametrize("resign_checksum", [False, True])
def test_a_pickle_that_would_run_code_is_never_unpickled(
    tmp_path, store, publish, unpickled, resign_checksum
):
    payload = pickle.dumps(CreatesMarker(tmp_path / "sanity-marker"))
    pickle.loads(payload)  # the payload really does run code when unpickled
    assert (tmp_path / "sanity-marker").exists()

    marker = tmp_path / "pwned"
    payload = pickle.dumps(CreatesMarker(marker))
    model_id = publish()
    (store.root / model_id / "model.pickle").write_bytes(payload)
    if resign_checksum:
        # The attacker also fixes the checksum, but cannot sign without the key.
        def point_at_payload(manifest):
            manifest["files"]["model.pickle"] = hashlib.sha256(payload).hexdigest()

        _rewrite_manifest(store, model_id, point_at_payload, resign=False)
    unpickled.clear()
    with pytest.raises(ModelIntegrityError):
        store.load(model_id)
    assert unpickled == []
    assert not marker.exists()


def test_a_symlinked_model_pickle_is_refused(tmp_path, store, publish, unpickled):
    model_id = publish()
    path = store.root / model_id / "model.pickle"
    elsewhere = tmp_path / "elsewhere.pickle"
    shutil.copyfile(path, elsewhere)  # same bytes: only the link itself is wrong
    path.unlink()
    path.symlink_to(elsewhere)
    with pytest.raises(ModelIntegrityError, match="symbolic link"):
        store.load(model_id)
    assert unpickled == []


def test_a_manifest_claiming_another_scikit_learn_version_is_refused(store, publish, unpickled):
    model_id = publish()

    def older_sklearn(manifest):
        manifest["library_versions"]["scikit-learn"] = "0.24.2"

    _rewrite_manifest(store, model_id, older_sklearn, resign=True)
    assert store.read_manifest(model_id)["library_versions"]["scikit-learn"] == "0.24.2"
    with pytest.raises(ModelIntegrityError) as caught:
        store.load(model_id)
    assert str(caught.value) == (
        f"{model_id} was trained with scikit-learn 0.24.2, this process runs "
        f"{sklearn.__version__}; retrain it (python -m algorithm.tools.ops retrain-stale)"
    )
    assert unpickled == []
