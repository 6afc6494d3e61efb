"""`POST /api/predict/` on the event loop, beside Django (web/config/asgi.py).

Predictions are the hot path: each worker answers them without a thread per request, and
sends the texts that arrive together over grpc.aio as one PredictBatch call. Everything a
request meets on the way is PredictView's and the API's own code, called as DRF's APIView
calls it: the view's authentication, permission and throttle classes, the JSON parser and
its size limit, `PredictView.params`, the exception handler and its error body, the view's
headers; the request id and the metrics by the functions the middleware calls. The headers
the middleware adds (settings.MIDDLEWARE) are the middleware's own: Django runs it on the
first answer of each worker, as on every other route, and later answers carry what it added
(`_MiddlewareHeaders`). Only the call to the algorithm service differs from PredictView.post:
awaited here, blocking there. The token and budget checks run on the event loop when they
need no I/O and in a thread when they do (common/nonblocking.py).

Only requests of the usual shape come here: a JSON body with its Content-Length, for an
allowed host, each header once. Anything else (another method, another media type, a
chunked body, a repeated header) goes to Django's PredictView, which documents the endpoint
in the OpenAPI schema and answers it the same way (tests/processes/test_predict_asgi.py holds
the two to the same answers and headers).
"""

import io
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from a2wsgi.asgi_typing import HTTPScope
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, close_old_connections
from django.http import HttpResponse
from django.http.request import HttpHeaders, split_domain_port, validate_host
from django.urls import resolve, reverse
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer

from common import metrics
from common.coalescing import answers
from common.logs import correlated
from common.nonblocking import without_blocking
from web.accounts.authentication import TokenAuthentication
from web.algorithm_proxy.client import AsyncPredictions
from web.algorithm_proxy.views import PredictParams, PredictView
from web.api.bodies import environ_of, held_bodies, read_body
from web.api.exception_handlers import exception_handler
from web.api.exceptions import PayloadTooLarge
from web.api.middleware import request_id_of, started_at
from web.api.parsers import JSONParser
from web.api.views import server_error_body

logger = logging.getLogger(__name__)
T = TypeVar("T")

_render = JSONRenderer().render


class _Caller:
    """What DRF's authentication, permission and throttle classes and the exception handler
    read of a request."""

    def __init__(self, path: str, meta: dict[str, str]):
        self.method = "POST"
        self.path = path
        self.META = meta
        self.headers = HttpHeaders(meta)
        self.user: Any = AnonymousUser()
        self.auth: Any = None


def _admit(caller: _Caller, view: PredictView) -> None:
    """DRF's APIView.initial with the view's own classes: authentication, permission,
    throttle. No content negotiation: the view has one renderer, and DRF's negotiation would
    cost a prediction more than the rest of this."""
    found = None
    for authenticator in view.get_authenticators():
        found = authenticator.authenticate(caller)
        if found is not None:
            caller.user, caller.auth = found
            break
    for permission in view.get_permissions():
        if not permission.has_permission(caller, view):
            if found is None:
                raise exceptions.NotAuthenticated()
            raise exceptions.PermissionDenied(getattr(permission, "message", None))
    waits = [
        throttle.wait()
        for throttle in view.get_throttles()
        if not throttle.allow_request(caller, view)
    ]
    if waits:
        raise exceptions.Throttled(max((wait for wait in waits if wait is not None), default=None))


def _in_thread(step: Callable[[], T]) -> T:
    """A token check off the event loop, in a thread that outlives the request: its database
    connection is looked after as Django does at each request's start and end, so one that a
    PostgreSQL restart broke is replaced instead of failing every later token check."""
    close_old_connections()
    try:
        return step()
    finally:
        close_old_connections()


async def token_of(scope: HTTPScope) -> int | None:
    """The id of the good token an HTTP request carries, checked as predictions check theirs;
    None without one."""
    caller = _Caller(scope["path"], _meta(scope))

    def check() -> int | None:
        try:
            found = TokenAuthentication().authenticate(caller)
        except (exceptions.APIException, DatabaseError):
            return None
        return None if found is None else found[1].token_id

    return await without_blocking(check, lambda: _in_thread(check))


class _Middleware(BaseHandler):
    """settings.MIDDLEWARE around an answer made on the event loop, as Django's WSGIHandler
    runs it around a view."""

    def __init__(self, path: str) -> None:
        super().__init__()
        # As Django's URL resolution sets it: the metrics name the route by it.
        self.match = resolve(path)
        self.load_middleware()

    def _get_response(self, request: Any) -> HttpResponse:
        # Where Django would resolve the URL and call the view: this one has answered.
        request.resolver_match = self.match
        return request.predict_answer


# What the middleware sets per answer; the rest of what it adds, it adds to every answer.
_PER_ANSWER = {"content-length", "x-request-id"}


class _MiddlewareHeaders:
    """The headers settings.MIDDLEWARE adds to this endpoint's answers, learned by running it
    (all of it: logs, metrics, request id) on a worker's first answer and added to every later
    one, which then costs no more than before any middleware: a middleware added later adds
    its headers here too."""

    def __init__(self, path: str) -> None:
        self._middleware = _Middleware(path)
        self.route = self._middleware.match.route
        self.added: list[tuple[bytes, bytes]] | None = None

    def run(self, scope: HTTPScope, caller: _Caller, answer: HttpResponse) -> HttpResponse:
        request = WSGIRequest(environ_of(scope, io.BytesIO()))
        # The id and start time the answer was made under, which the middleware keeps.
        request.request_id, request.started_at = request_id_of(caller), started_at(caller)
        request.predict_answer = answer
        own = {name.lower() for name in answer.headers}
        response = self._middleware.get_response(request)
        self.added = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.items()
            if name.lower() not in own | _PER_ANSWER
        ]
        return response


class PredictApp:
    """The ASGI app of the endpoint; `serves(scope)` says whether a request is its own."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or reverse("predict")
        self._view = PredictView()
        # The view's own (Allow), which DRF's finalize_response adds to each of its answers.
        self._view_headers = [
            (name.lower().encode(), value.encode())
            for name, value in self._view.default_response_headers.items()
        ]
        self._middleware_headers = _MiddlewareHeaders(self.path)
        # Read once: Django's lazy settings cost more per read than the rest of this check.
        self._on = not settings.USE_X_FORWARDED_HOST
        self._allowed_hosts = settings.ALLOWED_HOSTS
        # Made on the worker's event loop, at its first prediction.
        self._predictions: AsyncPredictions | None = None

    def serves(self, scope: HTTPScope) -> bool:
        if not (self._on and scope["path"] == self.path and scope["method"] == "POST"):
            return False
        # uvicorn passes a list, which the ASGI type names only as an iterable.
        pairs = cast("list[tuple[bytes, bytes]]", scope["headers"])
        headers = dict(pairs)
        # A repeated header goes to Django, which sees it as WSGI servers pass it on: the
        # values joined with commas (refused for Host and Authorization, web/api/middleware.py).
        if len(headers) != len(pairs):
            return False
        length = headers.get(b"content-length", b"")
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        domain, _ = split_domain_port(headers.get(b"host", b"").decode("latin-1"))
        return (
            length.isdigit()
            and b"transfer-encoding" not in headers
            and media_type == b"application/json"
            and validate_host(domain, self._allowed_hosts)
        )

    async def __call__(self, scope: HTTPScope, receive, send) -> None:
        caller = _Caller(self.path, _meta(scope))
        started = started_at(caller)
        request_id = request_id_of(caller)
        with correlated(request_id):
            headers: list[tuple[bytes, bytes]] = []
            answer_status: int = status.HTTP_200_OK
            try:
                body = await self._answer(caller, int(caller.META["CONTENT_LENGTH"]), receive)
            except Exception as error:
                answer_status, body, headers = self._error(error, caller, request_id)
        payload = _render(body)
        headers += self._view_headers
        if self._middleware_headers.added is None:
            answer = HttpResponse(payload, status=answer_status, content_type="application/json")
            for name, value in headers:
                answer[name.decode("latin-1")] = value.decode("latin-1")
            response = self._middleware_headers.run(scope, caller, answer)
            response.close()
            answer_status, payload = response.status_code, response.content
            headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in response.items()
            ]
        else:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
                *self._middleware_headers.added,
                *headers,
            ]
            # As MetricsMiddleware counts every other answer.
            metrics.record_http_request(
                self._middleware_headers.route,
                "POST",
                answer_status,
                time.perf_counter() - started,
            )
        await send({"type": "http.response.start", "status": answer_status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, caller: _Caller, length: int, receive) -> Any:
        def admit() -> None:
            _admit(caller, self._view)

        await without_blocking(admit, lambda: _in_thread(admit))
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length > limit:
            raise PayloadTooLarge()
        with held_bodies.holding(caller.auth.token_id) as hold:
            chunks: list[bytes] = []

            def keep(chunk: bytes) -> None:
                hold(len(chunk))
                chunks.append(chunk)

            await read_body(receive, limit, PayloadTooLarge, keep)
            body = b"".join(chunks)
            data = JSONParser().parse(io.BytesIO(body))
            return await self.predictions(PredictView.params(data, caller))

    async def predictions(self, params: PredictParams) -> Any:
        """The answer to a valid request: one prediction for a text, a list for texts."""
        if self._predictions is None:
            self._predictions = AsyncPredictions(settings.ALGORITHM_GRPC_TARGET)
        if params.one:
            return await self._predictions.predict(
                text=params.texts[0],
                model_id=params.model_id,
                origin=params.origins[0],
                explain=params.explain,
            )
        batch = await self._predictions.predict_batch(
            params.texts, params.model_id, params.origins, params.explain
        )
        return answers(batch)

    def _error(
        self, error: Exception, caller: _Caller, request_id: str
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        """As DRF's APIView.handle_exception: the API's exception handler answers what it
        knows (a database it cannot reach is a 503); anything else is a logged 500."""
        if isinstance(error, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            # A 401 names the scheme to use, as DRF's handle_exception has it.
            error.auth_header = self._view.get_authenticate_header(caller)
        response = exception_handler(error, {"request": caller, "view": None})
        if response is None:
            logger.error("Internal Server Error: %s", self.path, exc_info=error)
            return status.HTTP_500_INTERNAL_SERVER_ERROR, server_error_body(request_id), []
        headers = [
            (name.lower().encode(), value.encode())
            for name, value in response.headers.items()
            if name.lower() != "content-type"
        ]
        return response.status_code, response.data, headers

    async def close(self) -> None:
        if self._predictions is not None:
            await self._predictions.close()


def _meta(scope: HTTPScope) -> dict[str, str]:
    """The request's headers as WSGI's environ names them, as DRF reads them."""
    meta = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in HttpHeaders.UNPREFIXED_HEADERS:
            key = f"HTTP_{key}"
        meta[key] = value.decode("latin-1")
    if scope.get("client"):
        meta["REMOTE_ADDR"] = scope["client"][0]
    return meta
