"""What a serving process does with a version it refuses: says why in its log, keeps
serving the previous one, and forgets the refusal once ACTIVE points back at a good one."""

import logging
import uuid

import pytest

from algorithm.serving.model_repository import ModelRepository
from tests import tampering


@pytest.fixture
def server(store):
    return ModelRepository(store, poll_seconds=3600, cache_size=2)  # refreshed by hand


def test_a_refused_active_version_is_logged_with_its_reason(store, publish, server, caplog):
    good, tampered = publish(), publish()
    store.activate(good)
    server.refresh()
    with (store.root / tampered / "model.pickle").open("ab") as stream:
        stream.write(b"x")
    tampering.point_active_at(store.root, tampered)
    caplog.clear()

    with caplog.at_level(logging.ERROR, logger="algorithm.serving.model_repository"):
        server.refresh()

    reason = f"checksum of model.pickle of {tampered} does not match"
    assert [record.getMessage() for record in caplog.records] == [
        f"Refused to load model {tampered}: {reason}",
        f"Model {tampered} is active but was not loaded (Model {tampered} failed its integrity "
        f"checks and will not be loaded: {reason}.); still serving {good}",
    ]
    assert server.active.model_id == good


def test_rolling_back_to_the_served_version_clears_the_refusal(store, publish, server):
    good, tampered = publish(), publish()
    store.activate(good)
    server.refresh()
    (store.root / tampered / "vectorizer.pickle").write_bytes(b"not a pickle")
    tampering.point_active_at(store.root, tampered)
    server.refresh()
    assert tampered in server.last_refusal

    store.activate(good)
    server.refresh()

    assert server.last_refusal is None
    assert server.get().model_id == good


@pytest.mark.parametrize("kind", list(tampering.KINDS))
def test_a_damaged_or_planted_version_is_refused_and_nothing_in_it_runs(
    tmp_path, store, publish, server, unpickled, other_model, metadata, kind
):
    good, bad = publish(), publish()
    other = str(uuid.uuid4())
    store.publish(other, other_model.vectorizer, other_model.classifier, metadata)
    store.activate(good)
    server.refresh()
    marker = tmp_path / "marker"
    tampering.KINDS[kind](store.root / bad, other=store.root / other, marker=marker)
    tampering.point_active_at(store.root, bad)
    unpickled.clear()

    server.refresh()

    assert unpickled == []
    assert not marker.exists()
    assert server.get().model_id == good
    assert server.last_refusal.startswith(f"Model {bad} failed its integrity checks")


@pytest.mark.parametrize("pointer", ["../elsewhere", "/etc", "ACTIVE"])
def test_an_active_pointer_that_is_no_model_id_is_refused(store, publish, server, pointer):
    good = publish()
    store.activate(good)
    server.refresh()
    tampering.point_active_at(store.root, pointer)

    server.refresh()

    assert server.get().model_id == good
    assert server.last_refusal == (
        "The ACTIVE pointer does not name a model version: it must hold one model id."
    )
