"""The model detail answers with the version's record when its live accuracy cannot be had:
live_accuracy null, and why. A stand-in algorithm service on a real port plays one whose
database is down, and one older than web, without the method."""

from concurrent import futures

import grpc
import pytest

from algorithm.v1 import models_pb2
from common.wire import NO_RETRY_METADATA, SERVICE_ERROR_METADATA
from web.algorithm_proxy.live_accuracy import OLDER_SERVICE

MODEL_ID = "4a1b7a52-3f59-4b8e-9d0c-2f4f4b5a6c7d"


def _get_model(request, context):
    return models_pb2.GetModelResponse(
        model=models_pb2.Model(model_id=request.model_id, algorithm="linear_svm")
    )


def _database_down(request, context):
    context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
    context.abort(grpc.StatusCode.UNAVAILABLE, "The database is unavailable; try again shortly.")


@pytest.fixture
def service_at(settings):
    servers = []

    def start(**methods) -> None:
        """A ModelService with these methods only, each a function(request, context)."""
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                function,
                request_deserializer=getattr(models_pb2, f"{name}Request").FromString,
                response_serializer=lambda message: message.SerializeToString(),
            )
            for name, function in methods.items()
        }
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("algorithm.v1.ModelService", handlers),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        settings.ALGORITHM_GRPC_TARGET = f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(grace=None)


@pytest.mark.parametrize(
    ("methods", "reason"),
    [
        (
            {"GetModel": _get_model, "GetLiveAccuracy": _database_down},
            "The database is unavailable; try again shortly.",
        ),
        ({"GetModel": _get_model}, OLDER_SERVICE),
    ],
    ids=["database down", "older service"],
)
def test_the_detail_answers_without_live_accuracy_and_says_why(
    api_client, service_at, methods, reason
):
    service_at(**methods)

    response = api_client.get(f"/api/models/{MODEL_ID}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["model_id"], body["algorithm"]) == (MODEL_ID, "linear_svm")
    assert (body["live_accuracy"], body["live_accuracy_error"]) == (None, reason)
