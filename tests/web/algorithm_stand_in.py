"""A stand-in of the algorithm service on a real port, for web's tests in process: several
algorithm.v1 services on one gRPC server, each method a function(request, context), web's
ALGORITHM_GRPC_TARGET pointed at it. The requests each method got are kept, in order; a
test may change a method's answer (`answer`) between requests."""

from concurrent import futures
from typing import Any

import grpc

from common.wire import NO_RETRY_METADATA, SERVICE_ERROR_METADATA


class StandIn:
    def __init__(self, services: dict[str, tuple[Any, dict[str, Any]]]):
        """services: {"TrainingService": (training_pb2, {"GetJob": function, ...}), ...}"""
        self.received: list[tuple[str, Any]] = []
        self.methods: dict[str, Any] = {}
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        for service_name, (module, methods) in services.items():
            self.methods.update(methods)
            handlers = {
                name: grpc.unary_unary_rpc_method_handler(
                    self._recording(name),
                    request_deserializer=getattr(module, f"{name}Request").FromString,
                    response_serializer=lambda message: message.SerializeToString(),
                )
                for name in methods
            }
            self.server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(f"algorithm.v1.{service_name}", handlers),)
            )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _recording(self, name: str) -> Any:
        def handler(request, context):
            self.received.append((name, request))
            return self.methods[name](request, context)

        return handler

    def answer(self, name: str, function: Any) -> None:
        """Answer `name` with this function from now on."""
        self.methods[name] = function

    def calls(self, name: str) -> list[Any]:
        return [request for called, request in self.received if called == name]

    def stop(self) -> None:
        self.server.stop(grace=None)


def refuse(code: grpc.StatusCode, message: str):
    """A method that answers with the service's own error."""

    def answer(request, context):
        context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
        context.abort(code, message)

    return answer
