"""Web's gRPC channel to the algorithm service: its settings, deadlines and credential, and
how single predictions are coalesced. Every call has a deadline: a down service is a quick
503, never a hang."""

import json
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from django.conf import settings
from rest_framework import status

from algorithm.v1 import prediction_pb2
from common import limits
from common import settings as common_settings
from common.coalescing import CoalescerOptions
from common.logs import correlation_id
from common.wire import AUTHORIZATION_METADATA, REQUEST_ID_METADATA, bearer
from web.algorithm_proxy.grpc_errors import BUSY, AlgorithmError, rest_error

PREDICT_DEADLINE_SECONDS = 5.0
CONTROL_DEADLINE_SECONDS = 5.0
# A readiness probe must answer well within its own caller's timeout (3 s in compose).
HEALTH_DEADLINE_SECONDS = 1.0

PREDICTION_SERVICE = prediction_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name
# Round robin spreads calls over every address the service's name resolves to, so more
# algorithm replicas share the load with no change here; the server closes connections now
# and then (grpc_server.MAX_CONNECTION_AGE_MS), which makes the channel resolve the name
# again and find replicas started since. Predictions are idempotent: one that fails because
# a replica went away (UNAVAILABLE without the service's own answer, which tells the channel
# not to retry; or CANCELLED, which a server shutting down gives the calls it drops) is tried
# again on another, as a service mesh would. Retry throttling stops
# retries while most calls fail, so an outage does not multiply the load. Nothing else is
# retried: Train without a request id would queue a second job.
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{"service": PREDICTION_SERVICE}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
                },
            }
        ],
        "retryThrottling": {"maxTokens": 20, "tokenRatio": 0.1},
    }
)
# gRPC waits at least 30 s between two resolutions of a name by default, which would add to
# the time a new replica waits for its first call.
_DNS_MIN_SECONDS_BETWEEN_RESOLUTIONS = 5
CHANNEL_OPTIONS = (
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.dns_min_time_between_resolutions_ms", _DNS_MIN_SECONDS_BETWEEN_RESOLUTIONS * 1000),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", limits.MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", limits.MAX_MESSAGE_BYTES),
)

Stub = TypeVar("Stub")
Reply = TypeVar("Reply")


def authorization() -> str:
    """Web's credential, as every call but a health check carries it."""
    return bearer(settings.ALGORITHM_SERVICE_TOKEN)


def call_metadata(credential: str) -> tuple[tuple[str, str], ...]:
    """What every call carries: the request id, and web's credential."""
    return ((REQUEST_ID_METADATA, correlation_id.get()), (AUTHORIZATION_METADATA, credential))


def coalescing() -> CoalescerOptions:
    """How web's coalescers (blocking and asynchronous) batch and fail."""
    return {
        "max_batch": common_settings.COALESCE_MAX_BATCH,
        "max_in_flight": common_settings.COALESCE_MAX_IN_FLIGHT,
        # Room to queue behind the calls under way, each bounded by its own deadline.
        "timeout": PREDICT_DEADLINE_SECONDS * 2,
        "busy_error": lambda: AlgorithmError(status.HTTP_503_SERVICE_UNAVAILABLE, BUSY),
        # What one text can cause (too long for a batch's message; invalid, were a rule of the
        # service's ever stricter than web's): the batch's texts are then sent one by one, so
        # one caller's text never fails the others'. The rest apply to the whole batch.
        "is_per_text_error": lambda error: (
            getattr(error, "status_code", None)
            in (status.HTTP_400_BAD_REQUEST, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        ),
    }


class ServiceChannel:
    """A blocking channel to the service at `target`, opened in each process that uses it (a
    channel must not cross a fork: gunicorn workers each open their own), and its stubs."""

    def __init__(self, target: str):
        self.target = target
        self._lock = threading.Lock()
        self._credential = authorization()
        self._pid: int | None = None
        self._channel: grpc.Channel
        self._stubs: dict[Any, Any] = {}

    def stub(self, stub_class: Callable[[grpc.Channel], Stub]) -> Stub:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._channel = grpc.insecure_channel(self.target, options=CHANNEL_OPTIONS)
                    self._stubs = {}
                    self._pid = os.getpid()
        if stub_class not in self._stubs:
            self._stubs[stub_class] = stub_class(self._channel)
        return self._stubs[stub_class]

    def call(
        self,
        method: Callable[..., Reply],
        request: Any,
        timeout: float = CONTROL_DEADLINE_SECONDS,
    ) -> Reply:
        """One call with its deadline and metadata; a failure as the API error it means."""
        try:
            return method(request, timeout=timeout, metadata=call_metadata(self._credential))
        except grpc.RpcError as error:
            raise rest_error(error) from error
