"""A planted model version in the real serving processes: refused before unpickling, the
previous version keeps answering, and info and health say which version was refused and why."""

import pathlib

import grpc
import pytest

from algorithm.v1 import info_pb2, info_pb2_grpc, prediction_pb2
from tests import support, tampering

pytestmark = pytest.mark.slow


@pytest.fixture
def planted_model_id(algorithm_services, active_model_id, grpc_channel, tmp_path):
    """A version whose model.pickle writes tmp_path/marker when unpickled, made active."""
    support.wait_until(
        lambda: (
            algorithm_services.shim.get(f"{algorithm_services.http_url}/health", timeout=5).json()[
                "model_id"
            ]
            == active_model_id
        ),
        5,
        "the shim serving the SMS model",
    )
    model_id = algorithm_services.publish_model(
        [("yes", "y"), ("sure", "y"), ("ok", "y"), ("no", "n"), ("never", "n"), ("nope", "n")],
        activate=False,
    )
    tampering.plant_code(algorithm_services.store.root / model_id, marker=tmp_path / "marker")
    # Activation itself refuses it now: someone who can write the volume points ACTIVE at it.
    tampering.point_active_at(algorithm_services.store.root, model_id)
    yield model_id
    algorithm_services.store.activate(active_model_id)
    info = info_pb2_grpc.InfoServiceStub(grpc_channel)
    support.wait_until(
        lambda: not info.GetInfo(info_pb2.GetInfoRequest(), timeout=5).model_refused,
        5,
        "the refusal being cleared after the rollback",
    )
    algorithm_services.store.delete(model_id)


def test_a_planted_version_is_refused_and_the_previous_one_keeps_serving(
    algorithm_services,
    active_model_id,
    planted_model_id,
    prediction_stub,
    grpc_channel,
    web_client,
    tmp_path,
):
    info = info_pb2_grpc.InfoServiceStub(grpc_channel)
    refused = support.wait_until(
        lambda: info.GetInfo(info_pb2.GetInfoRequest(), timeout=5).model_refused,
        5,
        "GetInfo reporting the refusal",
    )
    reason = (
        f"Model {planted_model_id} failed its integrity checks and will not be loaded: "
        f"checksum of model.pickle of {planted_model_id} does not match."
    )
    assert refused == reason

    for _ in range(3):
        reply = prediction_stub.Predict(
            prediction_pb2.PredictRequest(text="Free entry, win a prize now"), timeout=5
        )
        assert (reply.model_id, reply.label) == (active_model_id, "spam")

    def shim_health():
        body = algorithm_services.shim.get(
            f"{algorithm_services.http_url}/health", timeout=5
        ).json()
        return body if body["model_refused"] else None

    assert support.wait_until(shim_health, 5, "the shim's /health reporting the refusal") == {
        "status": "ok",
        "model_id": active_model_id,
        "model_refused": reason,
    }
    response = web_client.post(
        "/api/predict/", {"text": "See you at lunch tomorrow"}, format="json"
    )
    assert (response.status_code, response.json()["model_id"]) == (200, active_model_id)
    algorithm = web_client.get("/api/info/").json()["algorithm"]
    assert algorithm["model_refused"] == reason
    # The deployed model is the one still answering, no longer the active pointer's.
    assert (algorithm["active_model"]["model_id"], algorithm["active_model"]["active"]) == (
        active_model_id,
        False,
    )

    log_dir = pathlib.Path(algorithm_services.env["LOG_DIR"])
    grpc_log = (log_dir / "algorithm-grpc.log").read_text()
    assert f"Refused to load model {planted_model_id}: checksum of model.pickle" in grpc_log
    assert not (tmp_path / "marker").exists()
    # Naming the planted version outright is refused the same way.
    with pytest.raises(grpc.RpcError) as caught:
        prediction_stub.Predict(
            prediction_pb2.PredictRequest(text="hi", model_id=planted_model_id), timeout=5
        )
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        reason,
    )
    assert not (tmp_path / "marker").exists()
