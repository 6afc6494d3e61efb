"""The web app's one way to reach the algorithm service: gRPC (default) or the Flask shim.

Both transports return the same plain dicts and raise AlgorithmError with the HTTP status
the API should answer. Every call has a deadline: a down service is a quick 503, never a hang.
"""

import json
import os
import threading
from typing import Any

import grpc
import requests
from django.conf import settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import Counter
from rest_framework import status
from rest_framework.exceptions import APIException

from algorithm.v1 import (
    info_pb2,
    info_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    monitoring_pb2,
    monitoring_pb2_grpc,
    prediction_pb2,
    prediction_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)
from common import limits
from common.coalescing import AsyncPredictionCoalescer, PredictionCoalescer
from common.logs import correlation_id
from common.proto_json import as_json
from common.wire import (
    AUTHORIZATION_METADATA,
    REQUEST_ID_METADATA,
    SERVICE_ERROR_METADATA,
    bearer,
)

PREDICT_DEADLINE_SECONDS = 5.0
# Concurrent predictions in one web process share calls of up to this many texts, with at
# most this many calls under way at once per model (see coalescing.py). One call at a time
# makes the fullest batches: what queues behind it goes out together next.
COALESCE_MAX_BATCH = 64
COALESCE_MAX_IN_FLIGHT = 1
CONTROL_DEADLINE_SECONDS = 5.0
# A readiness probe must answer well within its own caller's timeout (3 s in compose).
HEALTH_DEADLINE_SECONDS = 1.0
HTTP_CONNECT_TIMEOUT_SECONDS = 1.0

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
                "name": [{"service": "algorithm.v1.PredictionService"}],
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
_CHANNEL_OPTIONS = (
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.dns_min_time_between_resolutions_ms", _DNS_MIN_SECONDS_BETWEEN_RESOLUTIONS * 1000),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", limits.MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", limits.MAX_MESSAGE_BYTES),
)
_PREDICTION_SERVICE = prediction_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name

_GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: status.HTTP_400_BAD_REQUEST,
    grpc.StatusCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION: status.HTTP_409_CONFLICT,
    grpc.StatusCode.ALREADY_EXISTS: status.HTTP_409_CONFLICT,
    grpc.StatusCode.RESOURCE_EXHAUSTED: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    grpc.StatusCode.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: status.HTTP_503_SERVICE_UNAVAILABLE,
}
_UNREACHABLE = "The algorithm service is unavailable; try again shortly."

CALL_ERRORS = Counter(
    "textclf_web_algorithm_call_errors",
    "Calls to the algorithm service that failed, by transport and gRPC code (or HTTP status).",
    ["transport", "code"],
)
# Web's credential was refused: a deployment fault (ALGORITHM_SERVICE_TOKEN differs between
# web and the algorithm service), not the client's.
_CREDENTIAL_REFUSED = "The algorithm service refused web's credential; see the server logs."
_BUSY = "The algorithm service is busy; try again shortly."
# gRPC's own refusal of a call beyond the server's ALGORITHM_GRPC_MAX_CONCURRENT_RPCS: the
# server is busy, where its other RESOURCE_EXHAUSTED (a message too large) is the caller's.
_SERVER_FULL = "Concurrent RPC limit exceeded!"


class AlgorithmError(APIException):
    """An answer from (or the absence of) the algorithm service, as an API error."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code


def _grpc_error(error: grpc.RpcError) -> AlgorithmError:
    """What a failed call (of either gRPC API, blocking or grpc.aio) means to the API."""
    code = error.code()
    CALL_ERRORS.labels("grpc", code.name).inc()
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AlgorithmError(status.HTTP_502_BAD_GATEWAY, _CREDENTIAL_REFUSED)
    # tuple(): grpc.aio's Metadata matches keys alone with `in`.
    refused = SERVICE_ERROR_METADATA in tuple(error.trailing_metadata() or ())
    if (
        code
        in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.CANCELLED,
        )
        and not refused
    ):
        return AlgorithmError(status.HTTP_503_SERVICE_UNAVAILABLE, _UNREACHABLE)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.details() == _SERVER_FULL:
        return AlgorithmError(status.HTTP_503_SERVICE_UNAVAILABLE, _BUSY)
    http_status = _GRPC_TO_HTTP.get(code, status.HTTP_502_BAD_GATEWAY)
    return AlgorithmError(http_status, error.details() or code.name)


def _coalescing() -> dict[str, Any]:
    """How web's coalescers (blocking and asynchronous) batch and fail."""
    return {
        "max_batch": COALESCE_MAX_BATCH,
        "max_in_flight": COALESCE_MAX_IN_FLIGHT,
        # Room to queue behind the calls under way, each bounded by its own deadline.
        "timeout": PREDICT_DEADLINE_SECONDS * 2,
        "busy_error": lambda: AlgorithmError(status.HTTP_503_SERVICE_UNAVAILABLE, _BUSY),
        # What one text can cause (invalid, too long); the rest apply to the whole batch.
        "is_per_text_error": lambda error: (
            getattr(error, "status_code", None)
            in (status.HTTP_400_BAD_REQUEST, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        ),
    }


def _metadata(authorization: str) -> tuple[tuple[str, str], ...]:
    return (
        (REQUEST_ID_METADATA, correlation_id.get()),
        (AUTHORIZATION_METADATA, authorization),
    )


class _Transport:
    """What both transports share: single predictions go out coalesced into batches."""

    def __init__(self):
        self._authorization = bearer(settings.ALGORITHM_SERVICE_TOKEN)
        self._coalescer = PredictionCoalescer(
            lambda texts, model_id: self.predict_batch(texts=texts, model_id=model_id),
            **_coalescing(),
        )

    def predict(self, *, text: str, model_id: str) -> dict[str, Any]:
        """{"label", "scores", "model_id"} for one text."""
        return self._coalescer.predict(text=text, model_id=model_id)

    def predict_batch(self, *, texts: list[str], model_id: str) -> dict[str, Any]:
        raise NotImplementedError


class GrpcTransport(_Transport):
    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self._lock = threading.Lock()
        self._pid: int | None = None

    def _stubs(self):
        # A channel must not cross a fork: gunicorn workers each open their own.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    channel = grpc.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
                    self._prediction = prediction_pb2_grpc.PredictionServiceStub(channel)
                    self._training = training_pb2_grpc.TrainingServiceStub(channel)
                    self._models = models_pb2_grpc.ModelServiceStub(channel)
                    self._info = info_pb2_grpc.InfoServiceStub(channel)
                    self._monitoring = monitoring_pb2_grpc.MonitoringServiceStub(channel)
                    self._health = health_pb2_grpc.HealthStub(channel)
                    self._pid = os.getpid()
        return self._prediction, self._training

    def _call(self, method, request, timeout: float):
        try:
            return method(request, timeout=timeout, metadata=_metadata(self._authorization))
        except grpc.RpcError as error:
            raise _grpc_error(error) from error

    def readiness(self) -> dict[str, bool]:
        """grpc.health.v1: the overall service (settled on the active version) and
        PredictionService (a version answers)."""
        self._stubs()
        states = {}
        for key, service in (("ready", ""), ("predicting", _PREDICTION_SERVICE)):
            try:
                reply = self._health.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=HEALTH_DEADLINE_SECONDS
                )
            except grpc.RpcError:
                reply = health_pb2.HealthCheckResponse()
            states[key] = reply.status == health_pb2.HealthCheckResponse.SERVING
        return states

    def predict_batch(self, *, texts: list[str], model_id: str) -> dict[str, Any]:
        prediction, _ = self._stubs()
        response = self._call(
            prediction.PredictBatch,
            prediction_pb2.PredictBatchRequest(texts=texts, model_id=model_id),
            PREDICT_DEADLINE_SECONDS,
        )
        return as_json(response)

    def train(
        self,
        *,
        algorithm: str,
        parameters: dict[str, Any] | None,
        request_id: str,
        base_model_id: str = "",
    ) -> dict[str, Any]:
        _, training = self._stubs()
        request = training_pb2.TrainRequest(
            algorithm=algorithm, request_id=request_id, base_model_id=base_model_id
        )
        if parameters is not None:
            request.parameters.update(parameters)
        response = self._call(training.Train, request, CONTROL_DEADLINE_SECONDS)
        return as_json(response.job)

    def get_job(self, *, job_id: str) -> dict[str, Any]:
        _, training = self._stubs()
        response = self._call(
            training.GetJob, training_pb2.GetJobRequest(job_id=job_id), CONTROL_DEADLINE_SECONDS
        )
        return as_json(response.job)

    def list_algorithms(self) -> list[dict[str, Any]]:
        _, training = self._stubs()
        response = self._call(
            training.ListAlgorithms, training_pb2.ListAlgorithmsRequest(), CONTROL_DEADLINE_SECONDS
        )
        return [as_json(algorithm) for algorithm in response.algorithms]

    def _model_call(self, name: str, request) -> Any:
        self._stubs()
        return self._call(getattr(self._models, name), request, CONTROL_DEADLINE_SECONDS)

    def list_models(self, *, page_size: int, page_token: str) -> dict[str, Any]:
        reply = self._model_call(
            "ListModels", models_pb2.ListModelsRequest(page_size=page_size, page_token=page_token)
        )
        return as_json(reply)

    def get_model(self, *, model_id: str) -> dict[str, Any]:
        reply = self._model_call("GetModel", models_pb2.GetModelRequest(model_id=model_id))
        return as_json(reply.model)

    def activate_model(self, *, model_id: str) -> dict[str, Any]:
        reply = self._model_call(
            "ActivateModel", models_pb2.ActivateModelRequest(model_id=model_id)
        )
        return as_json(reply.model)

    def delete_model(self, *, model_id: str) -> None:
        self._model_call("DeleteModel", models_pb2.DeleteModelRequest(model_id=model_id))

    def evaluate_model(self, *, model_id: str, rows: list[dict[str, str]] | None) -> dict:
        request = models_pb2.EvaluateModelRequest(
            model_id=model_id,
            rows=[models_pb2.LabelledText(text=r["text"], label=r["label"]) for r in rows or ()],
        )
        reply = self._model_call("EvaluateModel", request)
        return as_json(reply.metric_record)

    def get_metric_record(self, *, metric_id: str) -> dict[str, Any]:
        reply = self._model_call(
            "GetMetricRecord", models_pb2.GetMetricRecordRequest(metric_id=metric_id)
        )
        return as_json(reply.metric_record)

    def list_metric_records(self, *, model_id: str) -> list[dict[str, Any]]:
        reply = self._model_call(
            "ListMetricRecords", models_pb2.ListMetricRecordsRequest(model_id=model_id)
        )
        return [as_json(record) for record in reply.metric_records]

    def delete_metric_record(self, *, metric_id: str) -> None:
        self._model_call(
            "DeleteMetricRecord", models_pb2.DeleteMetricRecordRequest(metric_id=metric_id)
        )

    def get_info(self) -> dict[str, Any]:
        self._stubs()
        return as_json(
            self._call(self._info.GetInfo, info_pb2.GetInfoRequest(), CONTROL_DEADLINE_SECONDS)
        )

    def _monitoring_call(self, name: str, request) -> Any:
        self._stubs()
        return self._call(getattr(self._monitoring, name), request, CONTROL_DEADLINE_SECONDS)

    def set_schedule(self, *, model_id: str, cron_expression: str) -> dict[str, Any]:
        reply = self._monitoring_call(
            "SetSchedule",
            monitoring_pb2.SetScheduleRequest(model_id=model_id, cron_expression=cron_expression),
        )
        return as_json(reply.schedule)

    def get_schedule(self, *, model_id: str) -> dict[str, Any]:
        reply = self._monitoring_call(
            "GetSchedule", monitoring_pb2.GetScheduleRequest(model_id=model_id)
        )
        return as_json(reply.schedule)

    def list_schedules(self) -> list[dict[str, Any]]:
        reply = self._monitoring_call("ListSchedules", monitoring_pb2.ListSchedulesRequest())
        return [as_json(schedule) for schedule in reply.schedules]

    def delete_schedule(self, *, model_id: str) -> None:
        self._monitoring_call(
            "DeleteSchedule", monitoring_pb2.DeleteScheduleRequest(model_id=model_id)
        )

    def create_result(self, *, model_id: str, y_true: list, y_pred: list) -> dict[str, Any]:
        request = monitoring_pb2.CreateResultRequest(model_id=model_id)
        request.y_true.extend(y_true)
        request.y_pred.extend(y_pred)
        return as_json(self._monitoring_call("CreateResult", request))

    def get_accuracy(self, *, model_id: str) -> dict[str, Any]:
        return as_json(
            self._monitoring_call(
                "GetAccuracy", monitoring_pb2.GetAccuracyRequest(model_id=model_id)
            )
        )


class HttpTransport(_Transport):
    """The original flow: web calls the Flask shim."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _request(self, method: str, path: str, timeout: float, **kwargs) -> Any:
        try:
            response = self._session().request(
                method,
                f"{self.base_url}{path}",
                timeout=(HTTP_CONNECT_TIMEOUT_SECONDS, timeout),
                headers={
                    "X-Request-ID": correlation_id.get(),
                    "Authorization": self._authorization,
                },
                **kwargs,
            )
        except requests.RequestException as error:
            CALL_ERRORS.labels("http", "unreachable").inc()
            raise AlgorithmError(status.HTTP_503_SERVICE_UNAVAILABLE, _UNREACHABLE) from error
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            CALL_ERRORS.labels("http", str(response.status_code)).inc()
            if response.status_code == status.HTTP_401_UNAUTHORIZED:
                raise AlgorithmError(status.HTTP_502_BAD_GATEWAY, _CREDENTIAL_REFUSED)
            if response.status_code >= 500 and response.status_code != 503:
                raise AlgorithmError(
                    status.HTTP_502_BAD_GATEWAY, "The algorithm service failed; see its log."
                )
            message = body.get("message") if isinstance(body, dict) else None
            raise AlgorithmError(response.status_code, message or _UNREACHABLE)
        return body

    def predict_batch(self, *, texts: list[str], model_id: str) -> dict[str, Any]:
        return self._request(
            "POST",
            "/predict",
            PREDICT_DEADLINE_SECONDS,
            json={"texts": texts, "model_id": model_id},
        )

    def train(
        self, *, algorithm: str, parameters: dict[str, Any] | None, request_id: str
    ) -> dict[str, Any]:
        body = {"algorithm": algorithm, "parameters": parameters, "request_id": request_id}
        return self._request("POST", "/train", CONTROL_DEADLINE_SECONDS, json=body)

    def get_job(self, *, job_id: str) -> dict[str, Any]:
        return self._request(
            "GET", f"/jobs/{requests.utils.quote(job_id, safe='')}", CONTROL_DEADLINE_SECONDS
        )

    def list_algorithms(self) -> list[dict[str, Any]]:
        return self._request("GET", "/algorithms", CONTROL_DEADLINE_SECONDS)

    def forward(self, method: str, path: str, body: bytes | None, timeout: float) -> tuple:
        """Pass a request of the inference protocol's REST form to the shim, which speaks it;
        its (status, JSON body). The protocol's errors are the shim's to word."""
        try:
            response = self._session().request(
                method,
                f"{self.base_url}{path}",
                data=body,
                timeout=(HTTP_CONNECT_TIMEOUT_SECONDS, timeout),
                headers={
                    "X-Request-ID": correlation_id.get(),
                    "Authorization": self._authorization,
                    "Content-Type": "application/json",
                },
            )
            answer = response.json()
        except (requests.RequestException, ValueError):
            CALL_ERRORS.labels("http", "unreachable").inc()
            return status.HTTP_503_SERVICE_UNAVAILABLE, {"error": _UNREACHABLE}
        if response.status_code == status.HTTP_401_UNAUTHORIZED:
            return status.HTTP_502_BAD_GATEWAY, {"error": _CREDENTIAL_REFUSED}
        if response.status_code >= 500 and response.status_code != 503:
            return status.HTTP_502_BAD_GATEWAY, {"error": "The algorithm service failed."}
        return response.status_code, answer

    def readiness(self) -> dict[str, bool]:
        """The shim's /health: 200 once settled on the active version, naming the model that
        answers."""
        try:
            response = requests.get(
                f"{self.base_url}/health",
                timeout=(HTTP_CONNECT_TIMEOUT_SECONDS, HEALTH_DEADLINE_SECONDS),
            )
            body = response.json()
        except (requests.RequestException, ValueError):
            return {"ready": False, "predicting": False}
        ready = response.status_code == status.HTTP_200_OK
        return {"ready": ready, "predicting": ready and body.get("model_id") is not None}


class AsyncPredictions:
    """Predictions over grpc.aio for the endpoint served on the event loop
    (web/algorithm_proxy/predict_asgi.py): the same channel settings, deadline, credential,
    coalescing and errors as GrpcTransport, with calls that wait without a thread. Made inside
    the worker's event loop, which its channel belongs to."""

    def __init__(self, target: str):
        self._authorization = bearer(settings.ALGORITHM_SERVICE_TOKEN)
        self._channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        self._prediction = prediction_pb2_grpc.PredictionServiceStub(self._channel)
        self._coalescer = AsyncPredictionCoalescer(self.predict_batch, **_coalescing())

    async def predict(self, *, text: str, model_id: str) -> dict[str, Any]:
        return await self._coalescer.predict(text=text, model_id=model_id)

    async def predict_batch(self, texts: list[str], model_id: str) -> dict[str, Any]:
        try:
            reply = await self._prediction.PredictBatch(
                prediction_pb2.PredictBatchRequest(texts=texts, model_id=model_id),
                timeout=PREDICT_DEADLINE_SECONDS,
                metadata=_metadata(self._authorization),
            )
        except grpc.RpcError as error:
            raise _grpc_error(error) from error
        return as_json(reply)

    async def close(self) -> None:
        await self._channel.close()


_transports: dict[tuple[str, str], GrpcTransport | HttpTransport] = {}


def _transport(kind: str) -> GrpcTransport | HttpTransport:
    """One transport of each kind per process (and per target, which tests move)."""
    if kind == "grpc":
        key = ("grpc", settings.ALGORITHM_GRPC_TARGET)
        if key not in _transports:
            _transports[key] = GrpcTransport(key[1])
    else:
        key = ("http", settings.ALGORITHM_HTTP_URL)
        if key not in _transports:
            _transports[key] = HttpTransport(key[1])
    return _transports[key]


class AlgorithmClient:
    """The one way views reach the algorithm service.

    The original flow (train, jobs, predictions, algorithms) goes over the transport
    ALGORITHM_TRANSPORT names; the inference protocol's REST form to the shim, which speaks
    it; everything else over gRPC, since the Flask shim keeps only those endpoints. Views
    never pick a transport.
    """

    ORIGINAL_FLOW = frozenset(
        {"train", "get_job", "predict", "predict_batch", "list_algorithms", "readiness"}
    )

    def __getattr__(self, name: str) -> Any:
        kind = settings.ALGORITHM_TRANSPORT if name in self.ORIGINAL_FLOW else "grpc"
        return getattr(_transport(kind), name)

    def inference(self, method: str, path: str, body: bytes | None = None) -> tuple:
        """A request of the inference protocol's REST form (path under /v2), answered by the
        shim whatever ALGORITHM_TRANSPORT says: (status, JSON body)."""
        timeout = PREDICT_DEADLINE_SECONDS if method == "POST" else CONTROL_DEADLINE_SECONDS
        return _transport("http").forward(method, path, body, timeout)

    def retrain(self, *, model_id: str, **options: Any) -> dict[str, Any]:
        """Train with a version's algorithm and parameters: gRPC only."""
        return _transport("grpc").train(base_model_id=model_id, **options)


_client = AlgorithmClient()


def algorithm_client() -> AlgorithmClient:
    return _client
