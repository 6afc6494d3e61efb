"""The algorithm service answers only callers holding its credential: every gRPC method
(reflection too) and every shim endpoint but the health checks (the inference protocol's
liveness and readiness among them) refuses a call without it, or with a wrong one, before
any of the service's code runs."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_pb2_grpc
from algorithm.serving import grpc_server, http_shim
from algorithm.v1 import info_pb2, info_pb2_grpc, prediction_pb2, prediction_pb2_grpc
from tests import support

REFUSAL = (
    "This service needs its credential: send the header "
    "'authorization: Bearer <ALGORITHM_SERVICE_TOKEN>'."
)
WRONG = (("authorization", "Bearer not-the-credential"),)


@pytest.fixture(scope="module")
def target():
    server, port = grpc_server.create_server("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None)


@pytest.mark.parametrize("metadata", [(), WRONG], ids=["none", "wrong"])
def test_calls_without_the_credential_are_unauthenticated(target, metadata):
    with grpc.insecure_channel(target) as channel:
        for call in (
            lambda: prediction_pb2_grpc.PredictionServiceStub(channel).Predict(
                prediction_pb2.PredictRequest(text="hi"), metadata=metadata, timeout=5
            ),
            lambda: info_pb2_grpc.InfoServiceStub(channel).GetInfo(
                info_pb2.GetInfoRequest(), metadata=metadata, timeout=5
            ),
            lambda: oip_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
                oip_pb2.ModelInferRequest(model_name="textclf"), metadata=metadata, timeout=5
            ),
            lambda: oip_pb2_grpc.GRPCInferenceServiceStub(channel).ServerMetadata(
                oip_pb2.ServerMetadataRequest(), metadata=metadata, timeout=5
            ),
            lambda: list(
                reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                    metadata=metadata,
                    timeout=5,
                )
            ),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert refused.value.details() == REFUSAL


def test_health_needs_no_credential_and_the_rest_answers_with_it(target):
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        live = oip_pb2_grpc.GRPCInferenceServiceStub(channel).ServerLive(
            oip_pb2.ServerLiveRequest(), timeout=5
        )
    # Answered (readiness itself: tests/processes/test_readiness.py).
    assert reply.status in {
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    }
    assert live.live is True
    with support.service_channel(target) as channel:
        listed = list(
            reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
        )
    names = {service.name for service in listed[0].list_services_response.service}
    assert {"algorithm.v1.PredictionService", "inference.GRPCInferenceService"} <= names


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer guess"}], ids=["none", "wrong"])
@pytest.mark.parametrize(
    "method, path", [("post", "/predict"), ("post", "/train"), ("get", "/algorithms")]
)
def test_the_shim_refuses_calls_without_the_credential(headers, method, path):
    response = getattr(http_shim.app.test_client(), method)(path, json={}, headers=headers)

    assert response.status_code == 401
    assert response.get_json() == {"message": REFUSAL, "extra": {}}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_shim_health_check_is_open():
    response = http_shim.app.test_client().get("/health")

    assert response.status_code in {200, 503}
    assert response.get_json()["status"] in {"ok", "loading"}
