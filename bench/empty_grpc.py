"""The floor of a gRPC call: the real server, built by the same create_server, with one more
service whose Predict does nothing. Run with ``python -m bench.empty_grpc``."""

import signal
import threading

import grpc

from algorithm.serving.grpc_server import create_server
from algorithm.v1 import prediction_pb2
from common import settings as common_settings

SERVICE = "bench.v1.EmptyService"


def _empty_predict(_request, _context) -> prediction_pb2.PredictResponse:
    return prediction_pb2.PredictResponse()


def main() -> None:
    server, _port = create_server(f"127.0.0.1:{common_settings.ALGORITHM_GRPC_PORT}")
    handler = grpc.unary_unary_rpc_method_handler(
        _empty_predict,
        request_deserializer=prediction_pb2.PredictRequest.FromString,
        response_serializer=prediction_pb2.PredictResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Predict": handler}),)
    )
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
