"""Rotating the model signing key and the service credential without a moment in which a
prediction or a call fails: while a rotation is under way the old value is accepted beside the
new one (MODEL_SIGNING_KEY_PREVIOUS, ALGORITHM_SERVICE_TOKEN_PREVIOUS), then it is dropped."""

import os
import subprocess
import sys
import threading

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from algorithm.domain import ml
from algorithm.domain.store import ModelIntegrityError, ModelStore
from algorithm.serving import grpc_server, http_shim
from algorithm.serving.model_repository import ModelRepository
from algorithm.serving.service_auth import ServiceCredential
from common import settings as common_settings
from tests.support import REPO_ROOT

OLD_KEY, NEW_KEY = "old-signing-key-0123456789abcdef", "new-signing-key-fedcba9876543210"
OLD_TOKEN, NEW_TOKEN = "old-service-token-0123456789", "new-service-token-9876543210"


@pytest.fixture
def signing_keys(monkeypatch):
    """Set the keys a process reads at its start (common.settings keeps them)."""

    def use(current: str, previous: str = "") -> None:
        monkeypatch.setattr(common_settings, "MODEL_SIGNING_KEY", current)
        monkeypatch.setattr(common_settings, "MODEL_SIGNING_KEY_PREVIOUS", previous)

    return use


def test_rotating_the_signing_key_keeps_every_version_loadable_throughout(
    store, publish, signing_keys
):
    signing_keys(OLD_KEY)
    model_ids = [publish() for _ in range(3)]
    store.activate(model_ids[-1])
    serving = ModelRepository(store, poll_seconds=0.01, cache_size=4)
    assert serving.get().model_id == model_ids[-1]

    # Without the previous key, a process with the new one alone would refuse them all.
    signing_keys(NEW_KEY)
    with pytest.raises(ModelIntegrityError, match="manifest signature"):
        store.load(model_ids[0])

    # Step 1: every process signs with the new key and accepts the old one too.
    signing_keys(NEW_KEY, OLD_KEY)
    failures, answered, done = [], [], threading.Event()

    def load_and_predict_as_fresh_processes():
        while not done.is_set():
            for model_id in model_ids:
                try:
                    model = ModelStore(store.root).load(model_id)
                    answered.append(ml.predict(model.vectorizer, model.classifier, ["evet"]))
                except Exception as error:  # every failure counts, whatever its kind
                    failures.append(error)

    reader = threading.Thread(target=load_and_predict_as_fresh_processes)
    reader.start()
    try:
        # Step 2: every manifest re-signed, each by a rename, while loads go on.
        for model_id in model_ids:
            assert store.resign(model_id) is True
            assert store.resign(model_id) is False
    finally:
        done.set()
        reader.join()
    assert failures == []
    assert answered

    # Step 3: the old key dropped; a process started now loads every version.
    signing_keys(NEW_KEY)
    restarted = ModelRepository(store, poll_seconds=0.01, cache_size=4)
    assert restarted.get().model_id == model_ids[-1]
    assert [store.load(model_id).model_id for model_id in model_ids] == model_ids
    # And the old key opens none of them any more.
    signing_keys(OLD_KEY)
    with pytest.raises(ModelIntegrityError, match="manifest signature"):
        store.load(model_ids[-1])


def resign_models(model_dir, **keys: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODEL_DIR": str(model_dir), **keys}
    return subprocess.run(
        [sys.executable, "-m", "algorithm.tools.ops", "resign-models"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_resign_models_signs_what_the_previous_key_signed_and_names_what_neither_did(
    store, publish, signing_keys
):
    signing_keys(OLD_KEY)
    model_ids = [publish(), publish()]
    signing_keys("a-key-nobody-uses-any-more-0000")
    foreign = publish()

    result = resign_models(
        store.root, MODEL_SIGNING_KEY=NEW_KEY, MODEL_SIGNING_KEY_PREVIOUS=OLD_KEY
    )

    assert result.returncode == 1
    assert result.stdout == (
        "Signed 2 manifests with MODEL_SIGNING_KEY; 0 already were.\n"
        f"  not signed: {foreign}: manifest signature of {foreign} does not match\n"
    )
    assert result.stderr == (
        "error: 1 versions are signed by neither MODEL_SIGNING_KEY nor "
        "MODEL_SIGNING_KEY_PREVIOUS; keep the previous key until they are re-signed or "
        "deleted.\n"
    )
    signing_keys(NEW_KEY)
    assert [store.load(model_id).model_id for model_id in model_ids] == model_ids

    store.delete(foreign)
    again = resign_models(store.root, MODEL_SIGNING_KEY=NEW_KEY)
    assert (again.returncode, again.stdout) == (
        0,
        "Signed 0 manifests with MODEL_SIGNING_KEY; 2 already were.\n",
    )


def list_services(target: str, token: str) -> grpc.StatusCode:
    with grpc.insecure_channel(target) as channel:
        try:
            list(
                reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                    metadata=(("authorization", f"Bearer {token}"),),
                    timeout=5,
                )
            )
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


@pytest.fixture
def algorithm_service(monkeypatch):
    """Starts the gRPC server and the shim's credential check as a (re)start with the
    environment given would."""
    servers = []

    def start(token: str, previous: str = "") -> str:
        monkeypatch.setenv("ALGORITHM_SERVICE_TOKEN", token)
        monkeypatch.setenv("ALGORITHM_SERVICE_TOKEN_PREVIOUS", previous)
        server, port = grpc_server.create_server("127.0.0.1:0")
        server.start()
        servers.append(server)
        monkeypatch.setattr(http_shim, "_credential", ServiceCredential())
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(grace=None)


def shim_status(token: str) -> int:
    client = http_shim.app.test_client()
    return client.get("/algorithms", headers={"Authorization": f"Bearer {token}"}).status_code


def test_rotating_the_service_credential_accepts_both_during_the_rollover_only(
    algorithm_service,
):
    before = algorithm_service(OLD_TOKEN)
    assert list_services(before, OLD_TOKEN) == grpc.StatusCode.OK
    assert list_services(before, NEW_TOKEN) == grpc.StatusCode.UNAUTHENTICATED

    # Step 1: the service restarted with the new credential, the old one still accepted:
    # web, not yet restarted, still sends the old one.
    rollover = algorithm_service(NEW_TOKEN, OLD_TOKEN)
    assert list_services(rollover, OLD_TOKEN) == grpc.StatusCode.OK
    assert list_services(rollover, NEW_TOKEN) == grpc.StatusCode.OK
    assert (shim_status(OLD_TOKEN), shim_status(NEW_TOKEN)) == (200, 200)

    # Step 3, once every caller sends the new one: the previous credential dropped.
    after = algorithm_service(NEW_TOKEN)
    assert list_services(after, OLD_TOKEN) == grpc.StatusCode.UNAUTHENTICATED
    assert list_services(after, NEW_TOKEN) == grpc.StatusCode.OK
    assert (shim_status(OLD_TOKEN), shim_status(NEW_TOKEN)) == (401, 200)
