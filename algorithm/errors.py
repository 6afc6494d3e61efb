"""Errors the service functions raise; gRPC and HTTP map each to their own status."""

import grpc


class ServiceError(Exception):
    """A failure the caller can act on, with a message that says how."""

    grpc_code = grpc.StatusCode.INTERNAL
    http_status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class NotFound(ServiceError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class FailedPrecondition(ServiceError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 409


class Unavailable(ServiceError):
    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
