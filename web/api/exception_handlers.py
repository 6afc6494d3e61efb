"""The one DRF exception handler: every API error as `{"message": <sentence>, "extra": {...}}`.

Validation errors also list every failing field under `extra.fields`, keyed by a
path to the field: `text`, `parameters.alpha`, `texts[2]`, or `[3].label` for the
fourth item of a bulk request.
"""

from collections.abc import Iterator
from typing import Any

import psycopg2
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from web.api.exceptions import (
    DatabaseUnavailable,
    PayloadTooLarge,
    QueryTimedOut,
    error_body,
    statement_timed_out,
)

# The inference protocol's REST form (web/algorithm_proxy/inference_views.py).
INFERENCE_PREFIX = "/v2"

# Django's wrapped errors, and a raw psycopg2 cursor's (the import's COPY).
DATABASE_ERRORS = (
    OperationalError,
    InterfaceError,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling, then our body shape.

    Anything DRF does not know returns None and propagates, so Django logs it with
    its traceback and answers through handler500.
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif statement_timed_out(exc):
        exc = QueryTimedOut()
    elif isinstance(exc, DATABASE_ERRORS):
        # The connection is gone: the request may be retried.
        exc = DatabaseUnavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        fields = dict(_flatten(exc.detail))
        response.data = error_body(_summary(fields), {"fields": fields})
    elif isinstance(exc, exceptions.Throttled):
        # The Retry-After header DRF set stays; the body says the same for clients reading JSON.
        response.data = error_body(str(exc.detail), {"retry_after_seconds": exc.wait})
    elif isinstance(response.data, dict) and isinstance(response.data.get("detail"), str):
        response.data = error_body(response.data["detail"], getattr(exc, "extra", None))
    else:
        detail = exc.default_detail if isinstance(exc, exceptions.APIException) else exc
        response.data = error_body(str(detail))
    if context["request"].path.startswith(INFERENCE_PREFIX):
        # The inference protocol's clients read its own error shape.
        response.data = {"error": response.data["message"]}
    return response


def _flatten(detail: Any, path: str = "") -> Iterator[tuple[str, list[str]]]:
    """Yield (path, messages) for every field with errors in a DRF error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:  # about the object at `path` itself
                yield from _flatten(value, path)
            elif isinstance(key, int):  # ListField and DictField index their children
                yield from _flatten(value, f"{path}[{key}]")
            else:
                yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(detail, list) and all(isinstance(item, str) for item in detail):
        if detail:
            yield path or api_settings.NON_FIELD_ERRORS_KEY, [str(item) for item in detail]
    elif isinstance(detail, list):  # a ListSerializer: one entry per item, {} when valid
        for index, item in enumerate(detail):
            yield from _flatten(item, f"{path}[{index}]")
    else:
        yield path or api_settings.NON_FIELD_ERRORS_KEY, [str(detail)]


def _summary(fields: dict[str, list[str]]) -> str:
    if not fields:
        return "Invalid input."
    path, messages = next(iter(fields.items()))
    where = "" if path == api_settings.NON_FIELD_ERRORS_KEY else f"{path}: "
    more = sum(len(m) for m in fields.values()) - 1
    suffix = f" ({more} more error{'s' if more > 1 else ''})" if more else ""
    return f"Invalid input: {where}{messages[0]}{suffix}"
