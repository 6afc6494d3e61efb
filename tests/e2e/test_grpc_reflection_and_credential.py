"""grpcurl finds and calls the services by reflection with the service credential; without it
only the health checks answer, over gRPC and the Flask shim."""

import json
import subprocess

import pytest
import requests

from tests import support

pytestmark = pytest.mark.slow


def test_grpcurl_lists_and_calls_services_without_proto_files(stack):
    grpcurl = str(support.VENV_BIN / "grpcurl")
    credential = f"authorization: {support.service_authorization()}"
    listed = subprocess.run(
        [grpcurl, "-plaintext", "-H", credential, stack["grpc"], "list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {
        "algorithm.v1.PredictionService",
        "algorithm.v1.TrainingService",
        "grpc.health.v1.Health",
        "inference.GRPCInferenceService",
    }
    called = subprocess.run(
        [
            grpcurl,
            "-plaintext",
            "-H",
            credential,
            "-d",
            '{"text": "free entry to win a prize"}',
            stack["grpc"],
            "algorithm.v1.PredictionService/Predict",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert called.returncode == 0, called.stderr
    answer = json.loads(called.stdout)
    assert set(answer) == {"label", "scores", "model_id", "prediction_id"}
    health = subprocess.run(
        # grpcurl asks reflection for the method first, and reflection wants the credential;
        # probes that call Health directly need none (tests/algorithm/test_service_auth.py).
        [grpcurl, "-plaintext", "-H", credential, stack["grpc"], "grpc.health.v1.Health/Check"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert json.loads(health.stdout) == {"status": "SERVING"}


def test_without_the_credential_only_health_answers(stack):
    grpcurl = str(support.VENV_BIN / "grpcurl")
    for flags, args in (
        ([], ["list"]),
        (["-d", '{"text": "hi"}'], ["algorithm.v1.PredictionService/Predict"]),
    ):
        refused = subprocess.run(
            [grpcurl, "-plaintext", *flags, stack["grpc"], *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode != 0
        assert "Unauthenticated" in refused.stderr, refused.stderr
        assert "ALGORITHM_SERVICE_TOKEN" in refused.stderr
    wrong = subprocess.run(
        [grpcurl, "-plaintext", "-H", "authorization: Bearer guess", stack["grpc"], "list"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Unauthenticated" in wrong.stderr, wrong.stderr
    for headers in ({}, {"Authorization": "Bearer guess"}):
        response = requests.post(
            f"{stack['shim']}/predict", json={"text": "hi"}, headers=headers, timeout=5
        )
        assert response.status_code == 401
        assert response.json()["message"] == (
            "This service needs its credential: send the header "
            "'authorization: Bearer <ALGORITHM_SERVICE_TOKEN>'."
        )
    assert requests.get(f"{stack['shim']}/health", timeout=5).status_code == 200
