"""What a failed call to the algorithm service means to web's API: the one table from gRPC
status to REST status in web. Every caller of the service (the views, the inference protocol's
REST form, the predictions on the event loop) raises what `rest_error` makes of its error, and
the API's exception handler writes it out in the route's error shape."""

from typing import cast

import grpc
from prometheus_client import Counter
from rest_framework import status
from rest_framework.exceptions import APIException

from common.wire import SERVICE_ERROR_METADATA

# The service's own answers, by their status; any other status is a fault of the service's
# (502). UNAUTHENTICATED and the unreachable service are decided before the table.
GRPC_TO_REST = {
    grpc.StatusCode.INVALID_ARGUMENT: status.HTTP_400_BAD_REQUEST,
    grpc.StatusCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION: status.HTTP_409_CONFLICT,
    grpc.StatusCode.ALREADY_EXISTS: status.HTTP_409_CONFLICT,
    grpc.StatusCode.RESOURCE_EXHAUSTED: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    grpc.StatusCode.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: status.HTTP_503_SERVICE_UNAVAILABLE,
}
# Without the service's own answer these mean the service was not reached or went away.
_UNREACHED = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
)
UNREACHABLE = "The algorithm service is unavailable; try again shortly."
BUSY = "The algorithm service is busy; try again shortly."
# Web's credential was refused: a deployment fault (ALGORITHM_SERVICE_TOKEN differs between
# web and the algorithm service), not the client's.
CREDENTIAL_REFUSED = "The algorithm service refused web's credential; see the server logs."
# gRPC's own refusal of a call beyond the server's ALGORITHM_GRPC_MAX_CONCURRENT_RPCS: the
# server is busy, where its other RESOURCE_EXHAUSTED (a message too large) is the caller's.
_SERVER_FULL = "Concurrent RPC limit exceeded!"

CALL_ERRORS = Counter(
    "textclf_web_algorithm_call_errors",
    "Calls to the algorithm service that failed, by gRPC code.",
    ["code"],
)


class AlgorithmError(APIException):
    """An answer from (or the absence of) the algorithm service, as an API error."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code


def rest_error(error: grpc.RpcError) -> AlgorithmError:
    """What a failed call (of either gRPC API, blocking or grpc.aio) means to the API."""
    code = error.code()
    CALL_ERRORS.labels(code.name).inc()
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AlgorithmError(status.HTTP_502_BAD_GATEWAY, CREDENTIAL_REFUSED)
    # Both APIs give (key, value) tuples, which grpc-stubs does not say; tuple(): grpc.aio's
    # Metadata matches keys alone with `in`.
    trailing = cast("tuple[tuple[str, str], ...]", tuple(error.trailing_metadata() or ()))
    answered = SERVICE_ERROR_METADATA in trailing
    if code in _UNREACHED and not answered:
        return AlgorithmError(status.HTTP_503_SERVICE_UNAVAILABLE, UNREACHABLE)
    details = error.details()
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and details == _SERVER_FULL:
        return AlgorithmError(status.HTTP_503_SERVICE_UNAVAILABLE, BUSY)
    return AlgorithmError(GRPC_TO_REST.get(code, status.HTTP_502_BAD_GATEWAY), details or code.name)
