"""Exceptions and the error body shared by every part of the API."""

from typing import Any

from django.conf import settings
from django.db import OperationalError
from psycopg2.errors import QueryCanceled
from rest_framework import exceptions, status

from common import settings as common_settings


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


class QueryTimedOut(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "query_timed_out"

    def __init__(
        self,
        seconds: float = common_settings.DATABASE_STATEMENT_TIMEOUT_SECONDS,
        setting: str = "DATABASE_STATEMENT_TIMEOUT_SECONDS",
        advice: str = "narrow the request (a more specific search, a smaller page) or try again",
    ) -> None:
        super().__init__(
            f"The database did not finish this request's query within {seconds:g} s "
            f"({setting}): {advice}."
        )


def statement_timed_out(error: Exception) -> bool:
    """Whether a database error is a statement that ran past its bound: raised by Django's
    cursors wrapped in its OperationalError, by a raw psycopg2 cursor (COPY) as it is."""
    return isinstance(error, QueryCanceled) or (
        isinstance(error, OperationalError) and isinstance(error.__cause__, QueryCanceled)
    )


def error_body(message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's one error shape: `{"message": <sentence>, "extra": {...}}`."""
    return {"message": message, "extra": extra or {}}
