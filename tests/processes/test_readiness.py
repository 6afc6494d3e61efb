"""Readiness that means something: gRPC health's overall service is SERVING once a server has
settled on the active version (so start-up gating never waits for a first model), and
PredictionService only while a version answers; web's /api/health/ needs the database, Redis
and the algorithm service, and reports predictions apart."""

import contextlib

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from algorithm.domain.store import ACTIVE_FILE
from algorithm.v1 import info_pb2, info_pb2_grpc
from tests import support, tampering
from tests.processes.conftest import AlgorithmServices

pytestmark = pytest.mark.slow

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
PREDICTION = "algorithm.v1.PredictionService"


@contextlib.contextmanager
def fresh_server(algorithm_services, workdir, **env):
    """A gRPC server of the deployment with a model folder of its own, and its health stub."""
    port = support.free_port()
    env = {
        **support.metrics_apart(algorithm_services.env, workdir / "metrics"),
        "ALGORITHM_GRPC_PORT": str(port),
        "MODEL_DIR": str(workdir / "models"),
        **env,
    }
    server = support.Service("grpc-fresh", support.procfile_command("algorithm_grpc"), env, workdir)
    try:
        server.wait_for_port(port)
        with support.service_channel(f"127.0.0.1:{port}") as channel:
            yield AlgorithmServices(env), channel
    finally:
        server.stop()


def statuses(channel) -> tuple[int, int]:
    health = health_pb2_grpc.HealthStub(channel)
    return tuple(
        health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
        for name in ("", PREDICTION)
    )


def settle(channel, expected: tuple[int, int]) -> None:
    support.wait_until(lambda: statuses(channel) == expected, 10, f"health {expected}")


def test_a_fresh_server_is_ready_before_its_first_model_and_predicts_after_it(
    algorithm_services, sms_rows, tmp_path
):
    with fresh_server(algorithm_services, tmp_path) as (services, channel):
        settle(channel, (SERVING, NOT_SERVING))

        services.publish_model(sms_rows)

        settle(channel, (SERVING, SERVING))


def test_an_active_version_refused_with_none_to_fall_back_on(
    algorithm_services, sms_rows, tmp_path
):
    store = AlgorithmServices({**algorithm_services.env, "MODEL_DIR": str(tmp_path / "models")})
    model_id = store.publish_model(sms_rows)
    tampering.truncate(store.store.path(model_id))

    with fresh_server(algorithm_services, tmp_path) as (_, channel):
        # Settled (the refusal is final until someone activates another version): ready for
        # calls, so web can start and train; but no prediction answers.
        settle(channel, (SERVING, NOT_SERVING))


def test_a_refused_activation_keeps_the_version_that_answers(
    algorithm_services, sms_rows, tmp_path
):
    with fresh_server(algorithm_services, tmp_path) as (services, channel):
        services.publish_model(sms_rows)
        settle(channel, (SERVING, SERVING))
        refused = services.publish_model(sms_rows, activate=False)
        tampering.truncate(services.store.path(refused))
        # As someone who can write the model volume would: activation itself refuses it.
        (services.store.root / ACTIVE_FILE).write_text(refused)

        info = info_pb2_grpc.InfoServiceStub(channel)
        support.wait_until(
            lambda: info.GetInfo(info_pb2.GetInfoRequest(), timeout=5).model_refused,
            10,
            "the server refusing the new version",
        )
        assert statuses(channel) == (SERVING, SERVING)


def test_web_is_ready_with_every_service_and_reports_predictions(
    web_client, active_model_id, anonymous_client, settings, algorithm_services
):
    response = anonymous_client.get("/api/health/")

    assert (response.status_code, response.json()) == (
        200,
        {
            "status": "ok",
            "checks": {"database": "ok", "redis": "ok", "algorithm": "ok"},
            "predictions": "ok",
        },
    )


def test_web_is_not_ready_without_the_algorithm_service(anonymous_client, settings, db):
    settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{support.free_port()}"

    response = anonymous_client.get("/api/health/")

    assert response.status_code == 503
    assert response.json()["checks"]["algorithm"] == "error"
    assert response.json()["predictions"] == "error"
