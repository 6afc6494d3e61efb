"""Exceptions and the error body shared by every part of the API."""

from typing import Any

from django.conf import settings
from rest_framework import exceptions, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self) -> None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(
            f"Request body is too large: the limit is {limit} bytes ({limit / 2**20:g} MiB)."
        )


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = "The database is unavailable; try again shortly."


def error_body(message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's one error shape: `{"message": <sentence>, "extra": {...}}`."""
    return {"message": message, "extra": extra or {}}
