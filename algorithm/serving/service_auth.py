"""Who may call the algorithm service: callers holding its credential, ALGORITHM_SERVICE_TOKEN
(web, operators with grpcurl, inference clients). Only health checks are open, gRPC health
and the Open Inference Protocol's liveness and readiness calls, so that orchestrators and
inference clients can probe without a secret. Compared in constant time; never echoed."""

import hmac
from collections.abc import Callable
from typing import Any

import grpc

from common.credentials import secret
from common.settings import optional_secret
from common.wire import (
    AUTHORIZATION_METADATA,
    NO_RETRY_METADATA,
    SERVICE_ERROR_METADATA,
    bearer,
)

OPEN_GRPC_SERVICE = "/grpc.health.v1.Health/"
OPEN_GRPC_METHODS = frozenset(
    f"/inference.GRPCInferenceService/{name}"
    for name in ("ServerLive", "ServerReady", "ModelReady")
)
REFUSAL = (
    "This service needs its credential: send the header "
    f"'{AUTHORIZATION_METADATA}: Bearer <ALGORITHM_SERVICE_TOKEN>'."
)


class ServiceCredential:
    def __init__(self, token: str | None = None, previous: str | None = None):
        # Read at start: a server with no credential set or generated stops there.
        tokens = [token or secret("ALGORITHM_SERVICE_TOKEN")]
        previous = (
            optional_secret("ALGORITHM_SERVICE_TOKEN_PREVIOUS") if previous is None else previous
        )
        if previous:
            tokens.append(previous)
        self._accepted = [bearer(value).encode() for value in tokens]

    def admits(self, authorization: str | None) -> bool:
        given = (authorization or "").encode()
        # Every credential compared, whichever matches: the time taken tells nothing.
        matches = [hmac.compare_digest(given, expected) for expected in self._accepted]
        return any(matches)


class CredentialInterceptor(grpc.ServerInterceptor):
    """Refuses, with UNAUTHENTICATED, every call but a health check that lacks the credential."""

    def __init__(self, credential: ServiceCredential):
        self._credential = credential

    def intercept_service(self, continuation: Callable, handler_call_details: Any):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_GRPC_SERVICE) or method in OPEN_GRPC_METHODS:
            return handler
        for key, value in handler_call_details.invocation_metadata or ():
            if key == AUTHORIZATION_METADATA:
                if self._credential.admits(value):
                    return handler
                break
        return _refusing(handler)


def _refuse(_request: Any, context: grpc.ServicerContext) -> None:
    context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
    context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)


def _refusing(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same kind (unary or streaming) that refuses the call."""
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        _refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
