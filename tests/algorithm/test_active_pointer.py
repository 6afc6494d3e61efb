"""The ACTIVE pointer is data someone with write access to the model volume controls: it is
read without following links, without blocking and only a few bytes of it, and what it holds
is never quoted back. Activation checks a version as fully as loading it would."""

import os
import threading

import pytest

from algorithm.domain.errors import FailedPrecondition
from algorithm.serving.model_repository import ModelRepository
from tests import tampering

SECRET = "s3cr3t-signing-key-that-must-never-leak"
NOT_A_VERSION = "The ACTIVE pointer does not name a model version: it must hold one model id."


@pytest.fixture
def server(store):
    return ModelRepository(store, poll_seconds=3600, cache_size=2)  # refreshed by hand


def refresh_within(server: ModelRepository, seconds: float) -> None:
    done = threading.Thread(target=server.refresh, daemon=True)
    done.start()
    done.join(seconds)
    assert not done.is_alive(), f"refresh still blocked after {seconds} s"


def test_a_pointer_linked_to_the_process_environment_leaks_nothing(
    store, publish, server, monkeypatch, caplog
):
    monkeypatch.setenv("MODEL_SIGNING_KEY", SECRET)
    good = publish()
    store.activate(good)
    server.refresh()
    (store.root / "ACTIVE").unlink()
    (store.root / "ACTIVE").symlink_to("/proc/self/environ")

    server.refresh()

    assert server.last_refusal == NOT_A_VERSION
    assert SECRET not in caplog.text
    assert server.get().model_id == good


def test_a_pointer_holding_a_secret_is_refused_without_quoting_it(store, publish, server):
    good = publish()
    store.activate(good)
    server.refresh()
    tampering.point_active_at(store.root, f"MODEL_SIGNING_KEY={SECRET}")

    server.refresh()

    assert server.last_refusal == NOT_A_VERSION
    assert server.get().model_id == good


def test_a_long_pointer_is_refused_without_reading_it_all(store, publish, server):
    good = publish()
    (store.root / "ACTIVE").write_text(good + "\n" + "x" * 10_000_000)

    server.refresh()

    assert server.last_refusal == NOT_A_VERSION
    assert server.active is None


def test_a_fifo_as_pointer_blocks_neither_refresh_nor_predictions(store, publish, server):
    publish()
    os.mkfifo(store.root / "ACTIVE")

    refresh_within(server, 2)

    assert server.last_refusal == NOT_A_VERSION
    with pytest.raises(FailedPrecondition, match="could not be loaded"):
        server.get()


@pytest.mark.parametrize("damage", ["checksum", "library"])
def test_a_version_that_would_be_refused_is_not_activated(store, publish, server, damage):
    good, bad = publish(), publish()
    store.activate(good)
    if damage == "checksum":
        with (store.root / bad / "model.pickle").open("ab") as stream:
            stream.write(b"x")
        reason = f"checksum of model.pickle of {bad} does not match"
    else:
        tampering.resign(
            store.root / bad,
            lambda manifest: manifest["library_versions"].update({"scikit-learn": "0.1"}),
        )
        reason = f"{bad} was trained with scikit-learn 0.1"

    with pytest.raises(FailedPrecondition, match=f"cannot be activated: {reason}"):
        store.activate(bad)

    assert store.active_id() == good
