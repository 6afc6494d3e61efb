"""Errors the service functions raise; gRPC and HTTP map each to their own status."""

import uuid

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


def parse_uuid(value: object, name: str) -> uuid.UUID:
    """An id from a caller; anything but a UUID is an InvalidArgument naming the field."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"{name} must be a UUID, got {value!r}.") from None


def check_no_nul(value: str, name: str) -> None:
    """PostgreSQL's text and jsonb cannot hold NUL: refused up front, as REST refuses it."""
    if "\x00" in value:
        raise InvalidArgument(f"{name} must not contain NUL characters (\\x00).")
