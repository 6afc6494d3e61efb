"""What each kind of service error (algorithm.domain.errors) is on the serving process's two
transports: a gRPC status code, and the Flask shim's HTTP status. The one place either is
decided; a kind missing here is an internal error on both."""

import grpc

from algorithm.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ServiceError,
    Unavailable,
)

# Kind: (gRPC status, HTTP status).
_STATUSES: dict[type[ServiceError], tuple[grpc.StatusCode, int]] = {
    InvalidArgument: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    NotFound: (grpc.StatusCode.NOT_FOUND, 404),
    FailedPrecondition: (grpc.StatusCode.FAILED_PRECONDITION, 409),
    Unavailable: (grpc.StatusCode.UNAVAILABLE, 503),
}
_INTERNAL = (grpc.StatusCode.INTERNAL, 500)


def _statuses(error: ServiceError) -> tuple[grpc.StatusCode, int]:
    kind = next((kind for kind in type(error).__mro__ if kind in _STATUSES), None)
    return _STATUSES[kind] if kind else _INTERNAL


def grpc_code(error: ServiceError) -> grpc.StatusCode:
    return _statuses(error)[0]


def http_status(error: ServiceError) -> int:
    return _statuses(error)[1]
