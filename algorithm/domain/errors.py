"""Errors the service functions raise. Each class is a kind of failure the caller can act on;
the serving process maps each kind to its gRPC status and to the shim's HTTP status in one
place (algorithm.serving.error_status)."""

import uuid


class ServiceError(Exception):
    """A failure the caller can act on, with a message that says how."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    """The request itself is wrong: sending it again unchanged fails again."""


class NotFound(ServiceError):
    """What the request names does not exist."""


class FailedPrecondition(ServiceError):
    """The request is sound but the system is not in a state to carry it out."""


class Unavailable(ServiceError):
    """A dependency (the database, Redis) is away for now: worth trying again later."""


def parse_uuid(value: object, name: str) -> uuid.UUID:
    """An id from a caller; anything but a UUID is an InvalidArgument naming the field."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be a UUID, got {value!r}.") from None


def check_no_nul(value: str, name: str) -> None:
    """PostgreSQL's text and jsonb cannot hold NUL: refused up front, as REST refuses it."""
    if "\x00" in value:
        raise InvalidArgument(f"{name} must not contain NUL characters (\\x00).")
