"""gRPC metadata keys that web and the algorithm service agree on."""

# The caller's request id, so one id follows a request through every service's log.
REQUEST_ID_METADATA = "x-request-id"
# Trailing metadata on every status the service sets itself, so that a client can tell the
# service's own refusal, with its message (the job queue is down, say), from a server it
# never reached or that never answered.
SERVICE_ERROR_METADATA = ("x-textclf-service-error", "1")
# gRPC's server pushback: a negative delay tells a client's retry policy not to try again.
# The service's own answers (busy, bad argument, no model) would be the same on a retry.
NO_RETRY_METADATA = ("grpc-retry-pushback-ms", "-1")
# Every call to the algorithm service but its health check carries its credential, as
# `authorization: Bearer <ALGORITHM_SERVICE_TOKEN>` (gRPC metadata, or the shim's header).
AUTHORIZATION_METADATA = "authorization"


def bearer(token: str) -> str:
    return f"Bearer {token}"
