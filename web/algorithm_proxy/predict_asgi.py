"""`POST /api/predict/` on the event loop, beside Django (web/config/asgi.py).

Predictions are the hot path: each worker answers them without a thread per request, and
sends the texts that arrive together over grpc.aio as one PredictBatch call. Everything a
request meets on the way is the API's own code, called as DRF's view would call it: the token
authentication, the scope rule with PredictView's declared scope, the throttle, the JSON
parser and its size limit, PredictRequestSerializer, the exception handler and its error
body, the request id, the security headers and the request metrics. The token and budget
checks run on the event loop when they need no I/O and in a thread when they do
(common/nonblocking.py).

Only requests of the usual shape come here: a JSON body with its Content-Length, for an
allowed host, each header once, while web speaks gRPC to the algorithm service. Anything
else (another method, another media type, a chunked body, a repeated header,
ALGORITHM_TRANSPORT=http) goes to Django's PredictView, which documents the endpoint in the
OpenAPI schema and answers it the same way.
"""

import io
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, close_old_connections
from django.http.request import HttpHeaders, split_domain_port, validate_host
from django.urls import reverse
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer

from common import metrics
from common.coalescing import answers
from common.logs import clean_id, correlated
from common.nonblocking import without_blocking
from web.accounts.authentication import TokenAuthentication
from web.accounts.permissions import HasRequiredScope
from web.algorithm_proxy.client import AsyncPredictions
from web.algorithm_proxy.serializers import PredictRequestSerializer
from web.algorithm_proxy.views import PredictView
from web.api.bodies import held_bodies, read_body
from web.api.exception_handlers import exception_handler
from web.api.exceptions import PayloadTooLarge
from web.api.parsers import JSONParser
from web.api.throttling import ClientRateThrottle
from web.api.views import server_error_body

logger = logging.getLogger(__name__)
T = TypeVar("T")

_render = JSONRenderer().render


def _static_headers() -> list[tuple[bytes, bytes]]:
    """What Django's middleware (SecurityMiddleware, XFrameOptionsMiddleware) and DRF's view
    add to every answer of this endpoint; tests/processes/test_predict_asgi.py holds the two paths
    to the same set."""
    headers = {"allow": "POST, OPTIONS"}
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers["x-content-type-options"] = "nosniff"
    if settings.SECURE_REFERRER_POLICY:
        headers["referrer-policy"] = settings.SECURE_REFERRER_POLICY
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers["cross-origin-opener-policy"] = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    headers["x-frame-options"] = settings.X_FRAME_OPTIONS
    return [(name.encode(), value.encode()) for name, value in headers.items()]


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


def _admit(caller: _Caller) -> None:
    """DRF's APIView.initial for PredictView: authentication, permission, throttle."""
    authenticator = TokenAuthentication()
    found = authenticator.authenticate(caller)
    if found is not None:
        caller.user, caller.auth = found
    if not HasRequiredScope().has_permission(caller, PredictView):
        if found is None:
            raise exceptions.NotAuthenticated()
        raise exceptions.PermissionDenied()
    throttle = ClientRateThrottle()
    if not throttle.allow_request(caller, PredictView):
        raise exceptions.Throttled(throttle.wait())


def _in_thread(step: Callable[[], T]) -> T:
    """A token check off the event loop, in a thread that outlives the request: its database
    connection is looked after as Django does at each request's start and end, so one that a
    PostgreSQL restart broke is replaced instead of failing every later token check."""
    close_old_connections()
    try:
        return step()
    finally:
        close_old_connections()


async def token_of(scope: dict) -> int | None:
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


class PredictApp:
    """The ASGI app of the endpoint; `serves(scope)` says whether a request is its own."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or reverse("predict")
        self.route = self.path.lstrip("/")
        self._headers = _static_headers()
        # Read once: Django's lazy settings cost more per read than the rest of this check.
        self._on = settings.ALGORITHM_TRANSPORT == "grpc" and not settings.USE_X_FORWARDED_HOST
        self._allowed_hosts = settings.ALLOWED_HOSTS
        # Made on the worker's event loop, at its first prediction.
        self._predictions: AsyncPredictions | None = None

    def serves(self, scope: dict) -> bool:
        if not (self._on and scope["path"] == self.path and scope["method"] == "POST"):
            return False
        headers = dict(scope["headers"])
        # A repeated header goes to Django, which sees it as WSGI servers pass it on: the
        # values joined with commas (refused for Host and Authorization, web/api/middleware.py).
        if len(headers) != len(scope["headers"]):
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

    async def __call__(self, scope: dict, receive, send) -> None:
        started = time.perf_counter()
        meta = _meta(scope)
        request_id = clean_id(meta.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex[:16]
        caller = _Caller(self.path, meta)
        with correlated(request_id):
            try:
                answer_status, body, headers = (
                    status.HTTP_200_OK,
                    await self._answer(caller, int(meta["CONTENT_LENGTH"]), receive),
                    [],
                )
            except Exception as error:
                answer_status, body, headers = self._error(error, caller, request_id)
        payload = _render(body)
        await send(
            {
                "type": "http.response.start",
                "status": answer_status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", request_id.encode()),
                    *self._headers,
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        metrics.record_http_request(
            self.route, "POST", answer_status, time.perf_counter() - started
        )

    async def _answer(self, caller: _Caller, length: int, receive) -> Any:
        await without_blocking(lambda: _admit(caller), lambda: _in_thread(lambda: _admit(caller)))
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
            params = PredictRequestSerializer(data=JSONParser().parse(io.BytesIO(body)))
            params.is_valid(raise_exception=True)
            return await self.predictions(params.validated_data)

    async def predictions(self, params: dict) -> Any:
        """The answer to a valid request: one prediction for "text", a list for "texts"."""
        model_id = str(params["model_id"] or "")
        if self._predictions is None:
            self._predictions = AsyncPredictions(settings.ALGORITHM_GRPC_TARGET)
        if "text" in params:
            return await self._predictions.predict(text=params["text"], model_id=model_id)
        return answers(await self._predictions.predict_batch(params["texts"], model_id))

    def _error(
        self, error: Exception, caller: _Caller, request_id: str
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        """As DRF's APIView.handle_exception: the API's exception handler answers what it
        knows (a database it cannot reach is a 503); anything else is a logged 500."""
        if isinstance(error, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            # A 401 names the scheme to use.
            error.auth_header = TokenAuthentication().authenticate_header(caller)
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


def _meta(scope: dict) -> dict[str, str]:
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
