import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status

from common import metrics
from common.logs import clean_id, correlated
from web.api.exceptions import error_body


class RequireContentLengthMiddleware:
    """Refuse chunked request bodies with a 411 instead of reading them as empty.

    Django only reads a body up to its Content-Length, so a chunked body without
    one would otherwise look like an empty request and fail with misleading
    "field is required" errors.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH"):
            return JsonResponse(
                error_body("Send the request body with a Content-Length header, not chunked."),
                status=status.HTTP_411_LENGTH_REQUIRED,
            )
        return self.get_response(request)


# The environ key under which web/config/asgi.py hands Django a request whose body it refused
# (too large, or too slow to arrive): the error to answer with.
REFUSED_BODY = "textclf.refused_body"


def _refusal(message: str, status_code: int) -> JsonResponse:
    response = JsonResponse(error_body(message), status=status_code)
    # Answered before CommonMiddleware, which would set it.
    response["Content-Length"] = str(len(response.content))
    return response


class RefusedBodyMiddleware:
    """Answer a request whose body was refused before it reached Django with that error, in
    the API's shape and with every header this stack adds to an answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = request.environ.get(REFUSED_BODY)
        if refused is not None:
            return _refusal(str(refused.detail), refused.status_code)
        return self.get_response(request)


class OneHostAndAuthorizationMiddleware:
    """Refuse a request with two Host or two Authorization headers, which would leave it to
    each layer to pick one. WSGI servers (gunicorn, a2wsgi) pass a repeated header on as its
    values joined with commas, and neither a host name nor a credential holds a comma."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key, name in (("HTTP_HOST", "Host"), ("HTTP_AUTHORIZATION", "Authorization")):
            if "," in request.META.get(key, ""):
                return _refusal(
                    f"Send one {name} header: this request has more than one.",
                    status.HTTP_400_BAD_REQUEST,
                )
        return self.get_response(request)


def request_id_of(request: HttpRequest) -> str:
    """The request's id, given at the first call: the caller's own if valid, else a new one.
    Predictions ask before this stack runs (web/algorithm_proxy/predict_asgi.py), and the stack
    keeps what they were given."""
    if not hasattr(request, "request_id"):
        given = clean_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = given or uuid.uuid4().hex[:16]
    return request.request_id


def started_at(request: HttpRequest) -> float:
    """When answering the request began (time.perf_counter()), taken at the first call: for a
    prediction, before it is answered on the event loop and handed to this stack."""
    if not hasattr(request, "started_at"):
        request.started_at = time.perf_counter()
    return request.started_at


class RequestIdMiddleware:
    """Give every request an id: logged on each of its lines, passed on to the algorithm
    service, and returned in the X-Request-ID header (a caller's own valid id is kept)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        with correlated(request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class MetricsMiddleware:
    """Count every request and time it, by route template (never the path itself, so the
    label values stay as few as the routes), method and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = started_at(request)
        response = self.get_response(request)
        match = request.resolver_match
        metrics.record_http_request(
            match.route if match else metrics.UNMATCHED_ROUTE,
            request.method if request.method in _METHODS else "other",
            response.status_code,
            time.perf_counter() - started,
        )
        return response


# Methods a client may send are any token: anything else is counted as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
