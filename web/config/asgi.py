"""ASGI entry point, served by gunicorn's uvicorn workers (see web/gunicorn.conf.py).

Predictions are answered on the event loop (web/algorithm_proxy/predict_asgi.py); every
other request goes to Django's WSGI application, on a pool of WEB_THREADS threads per worker,
exactly as it would be served without this module. Its body is read first, on the loop, under
REQUEST_BODY_TIMEOUT_SECONDS and the route's size limit, so a client that stalls or sends too
much holds no thread (web/api/bodies.py); only with a good token, so a client without one
has nothing held for it, but on the console's paths, whose forms come with a session or with
nothing (a sign-in). The probes never wait for that pool: liveness is answered on the loop
(Django does no I/O for it; Django refuses any database use there), and readiness runs on
threads of its own.
"""

from collections.abc import Callable
from tempfile import SpooledTemporaryFile

from a2wsgi import WSGIMiddleware
from a2wsgi.asgi_typing import HTTPScope

from common import limits
from common import settings as common_settings
from web.config.wsgi import application as django_application

# isort: split
# Imports models: only once the line above has set Django up.
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.urls import reverse
from rest_framework.exceptions import APIException

from common.nonblocking import without_blocking
from web.algorithm_proxy.predict_asgi import PredictApp, token_of
from web.api.bodies import environ_of, held_bodies, read_body
from web.api.exceptions import PayloadTooLarge
from web.api.middleware import REFUSED_BODY
from web.console.access import importer_of
from web.console.middleware import CONSOLE_PREFIX
from web.data.imports import DataImportTooLarge

_django = WSGIMiddleware(django_application, workers=common_settings.WEB_THREADS)
# Readiness checks the database, Redis and the algorithm service, each under a deadline of its
# own; on two threads of their own, a busy pool never makes a healthy process look unready.
_readiness = WSGIMiddleware(django_application, workers=2)
_predict = PredictApp()
_LIVENESS = reverse("liveness")
_READINESS = reverse("health")
_IMPORT = reverse("data-import")
_CONSOLE_IMPORT = reverse("console:data-import")
# What the held-bodies count holds the console's bodies under (web/api/bodies.py).
_CONSOLE_BODIES = "console"
# How much of a spooled body each replayed message carries.
_REPLAY_BYTES = 1 << 20


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] != "http":
        await _django(scope, receive, send)
    else:
        _drop_underscored_names(scope)
        if _predict.serves(scope):
            await _predict(scope, receive, send)
        else:
            await _after_body(scope, receive, send)


def _drop_underscored_names(scope: HTTPScope) -> None:
    """As gunicorn and Django's own server do: WSGI names `Content_Length` and
    `Content-Length` alike, so a header named with an underscore could pass for another
    (a second, smaller Content-Length; another client address)."""
    headers = scope["headers"]
    if any(b"_" in name for name, _ in headers):
        scope["headers"] = [(name, value) for name, value in headers if b"_" not in name]


async def _after_body(scope: HTTPScope, receive, send) -> None:
    """Django's answer, once the whole body has arrived; a file past DATA_UPLOAD_MAX_MEMORY_SIZE
    (only imports are allowed that much) waits on disk, as Django spools an upload."""
    # Whose share of the held bodies' memory this body takes: a token's id, or the console's.
    token: int | str | None = None
    importing = False
    if _has_body(scope):
        token = await token_of(scope)
        if token is None and scope["path"].startswith(CONSOLE_PREFIX):
            # The console's forms come with a session, not a token, or with none at all (a
            # sign-in): their bodies are read here all the same, and share one token's part
            # of the memory, so that a visitor who is not signed in holds no thread either.
            token = _CONSOLE_BODIES
            if scope["path"] == _CONSOLE_IMPORT:
                # A file as large as the API's import, only from a console user who may
                # import it, in a share of the memory of their own, as a token's.
                importer = await _console_importer(scope)
                if importer is not None:
                    token, importing = f"console-user:{importer}", True
        elif token is None:
            # Not read: Django refuses such a request (401, 404, 405) without reading its body.
            await _django(scope, receive, send)
            return
    limit, too_large = _limit(scope["path"], importing)
    in_memory = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    with (
        held_bodies.holding(token) as hold,
        SpooledTemporaryFile(max_size=in_memory) as body,
    ):

        def keep(chunk: bytes) -> None:
            # Past DATA_UPLOAD_MAX_MEMORY_SIZE the file is on disk: only that much is held.
            hold(max(0, min(len(chunk), in_memory - body.tell())))
            body.write(chunk)

        try:
            if _declared_length(scope) > limit:
                raise too_large()
            await read_body(receive, limit, too_large, keep)
        except APIException as refused:
            body.seek(0)
            body.truncate()
            await _on_the_loop(scope, body, send, {REFUSED_BODY: refused})
            return
        body.seek(0)
        if scope["path"] == _LIVENESS:
            await _on_the_loop(scope, body, send)
        else:
            app = _readiness if scope["path"] == _READINESS else _django
            await app(scope, _replay(body, receive), send)


def _limit(path: str, importing: bool) -> tuple[int, Callable[[], APIException]]:
    if path == _IMPORT or importing:
        limit = settings.DATA_IMPORT_MAX_BYTES
        return limit, lambda: DataImportTooLarge(limit)
    if path.startswith(CONSOLE_PREFIX):
        return limits.MAX_CONSOLE_FORM_BYTES, PayloadTooLarge
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE, PayloadTooLarge


async def _console_importer(scope: HTTPScope) -> int | None:
    """The console user whose session the request carries, if they may import a file."""
    cookies = "; ".join(
        value.decode("latin-1") for name, value in scope["headers"] if name == b"cookie"
    )

    def check() -> int | None:
        try:
            return importer_of(cookies)
        except DatabaseError:
            return None

    def in_thread() -> int | None:
        # A thread of the check pool, which outlives requests: its connection looked after
        # as Django does at each request's start and end.
        close_old_connections()
        try:
            return check()
        finally:
            close_old_connections()

    return await without_blocking(check, in_thread)


def _has_body(scope: HTTPScope) -> bool:
    return any(
        name == b"transfer-encoding" or (name == b"content-length" and value != b"0")
        for name, value in scope["headers"]
    )


def _declared_length(scope: HTTPScope) -> int:
    # uvicorn refuses a Content-Length that is not a number, and one sent twice.
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value)
    return 0


def _replay(body: SpooledTemporaryFile, receive):
    """A receive() that hands Django the body already read, then the client's own messages."""
    done = False

    async def replayed() -> dict:
        nonlocal done
        if done:
            return await receive()
        chunk = body.read(_REPLAY_BYTES)
        done = len(chunk) < _REPLAY_BYTES
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replayed


async def _on_the_loop(scope: HTTPScope, body, send, extra: dict | None = None) -> None:
    """Django's answer computed on the event loop itself, for requests it answers without I/O."""
    environ = environ_of(scope, body)
    environ.update(extra or {})
    started: list = []

    def start_response(status: str, headers: list, exc_info=None):
        started[:] = [int(status.split(" ", 1)[0]), headers]
        return lambda _chunk: None  # Django never writes through it

    response = django_application(environ, start_response)
    try:
        payload = b"".join(response)
    finally:
        response.close()
    status, headers = started
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _predict.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
