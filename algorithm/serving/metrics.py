"""The algorithm service's Prometheus metrics: gRPC calls, predictions, the prediction log
and model loads.

gRPC calls follow the names go-grpc-prometheus made usual (``grpc_server_handled_total``,
``grpc_server_handling_seconds``), so existing dashboards read them. Model versions appear as
label values only while loaded: the endpoint leaves out the samples of any other version
(see ``collectors``), so the series stay as few as the model repository holds.
"""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from algorithm import settings

GRPC_HANDLED = Counter(
    "grpc_server_handled",
    "gRPC calls completed on the server, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
)
GRPC_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time the server took to complete a gRPC call (a stream: until its last message).",
    ["grpc_service", "grpc_method", "grpc_type"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PREDICTIONS = Counter(
    "textclf_predictions",
    "Texts classified, by model version.",
    ["model_version"],
)
PREDICTION_BATCH_TEXTS = Histogram(
    "textclf_prediction_batch_texts",
    "Texts in each scikit-learn call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
)
PREDICTION_LOG_RECORDS = Counter(
    "textclf_prediction_log_records",
    "Predictions the prediction log's policy kept, by outcome: written to the log, or "
    "dropped (its queue full, or the database failing).",
    ["outcome"],
)
# Traffic (algorithm/serving/traffic.py): per version, labelled model_id, so a canary's errors
# and latency read beside the champion's.
PREDICTION_ERRORS = Counter(
    "textclf_prediction_errors",
    "Predictions a version failed to answer (a canary refused at load counts each text routed "
    "to it, which the active version answered instead), by model_id.",
    ["model_id"],
)
PREDICTION_SECONDS = Histogram(
    "textclf_prediction_duration_seconds",
    "Time one scoring call took (every text of a batch at once), by model_id.",
    ["model_id"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5),
)
SHADOW_PREDICTIONS = Counter(
    "textclf_shadow_predictions",
    "Texts sampled for the shadow, by outcome: agree or disagree with the champion, or "
    "skipped (its queue full, its budget spent, or the shadow refused at load).",
    ["outcome"],
)
MODEL_LOADS = Counter(
    "textclf_model_loads",
    "Attempts to load a model version, by outcome (loaded or refused).",
    ["outcome"],
)
MODEL_LOAD_SECONDS = Histogram(
    "textclf_model_load_duration_seconds",
    "Time to check and load a model version that loaded.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MODEL_REFUSALS = Counter(
    "textclf_model_refusals",
    "Model versions refused at load, by the check that failed.",
    ["reason"],
)
_VERSION_LABEL = "model_version"


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts and times every call the server has a method for (unknown ones never reach a
    handler, so method names are as few as the services define), and counts the server's
    threads busy with one. A non-blocking handler (grpc.health.v1's Watch) stays
    non-blocking: wrapped as a generator, each open stream would hold a thread."""

    def intercept_service(self, continuation: Callable, handler_call_details: Any):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            behavior = handler.unary_stream
            counted = (
                _non_blocking_stream
                if getattr(behavior, "experimental_non_blocking", False)
                else _server_stream
            )
            return grpc.unary_stream_rpc_method_handler(
                counted(behavior, service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # no client-streaming method is defined


class _Busy:
    """Server threads running a call now."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0

    def add(self, change: int) -> None:
        with self._lock:
            self.count += change


_threads_busy = _Busy()


def _record(service: str, method: str, kind: str, code: grpc.StatusCode, started: float):
    GRPC_HANDLED.labels(service, method, kind, code.name).inc()
    GRPC_HANDLING_SECONDS.labels(service, method, kind).observe(time.perf_counter() - started)


def _code(context, failed: bool) -> grpc.StatusCode:
    return context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)


def _unary(behavior: Callable, service: str, method: str) -> Callable:
    def counted(request, context):
        started, failed = time.perf_counter(), True
        _threads_busy.add(1)
        try:
            response = behavior(request, context)
            failed = False
            return response
        finally:
            _threads_busy.add(-1)
            _record(service, method, "unary", _code(context, failed), started)

    return counted


def _server_stream(behavior: Callable, service: str, method: str) -> Callable:
    def counted(request, context):
        started, failed = time.perf_counter(), True
        _threads_busy.add(1)
        try:
            yield from behavior(request, context)
            failed = False
        finally:
            _threads_busy.add(-1)
            _record(service, method, "server_stream", _code(context, failed), started)

    return counted


def _non_blocking_stream(behavior: Callable, service: str, method: str) -> Callable:
    """A stream whose handler returns at once and answers later through a callback: counted
    when the call ends, as CANCELLED if the client ended it before the server did."""

    def counted(request, context, send_response_callback):
        started, ended = time.perf_counter(), []

        def send(response):
            if response is None:  # the server's end of the stream
                ended.append(True)
            send_response_callback(response)

        def record():
            code = context.code() or (grpc.StatusCode.OK if ended else grpc.StatusCode.CANCELLED)
            _record(service, method, "server_stream", code, started)

        if context.add_callback(record):
            behavior(request, context, send_response_callback=send)

    # grpcio reads these flags off the handler function; the stubs know nothing of them.
    counted.experimental_non_blocking = True  # type: ignore[attr-defined]
    counted.experimental_thread_pool = getattr(  # type: ignore[attr-defined]
        behavior, "experimental_thread_pool", None
    )
    return counted


class ThreadsCollector(Collector):
    """The gRPC server's thread pool: its size and the threads running a call now (when all
    are busy, calls wait for one, up to GRPC_MAX_CONCURRENT_RPCS)."""

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "grpc_server_threads_busy",
            "gRPC server threads running a call now.",
            value=_threads_busy.count,
        )
        yield GaugeMetricFamily(
            "grpc_server_threads_max",
            "gRPC server threads (ALGORITHM_GRPC_THREADS).",
            value=settings.GRPC_THREADS,
        )


def collectors(loaded: Callable[[], set[str]], active: Callable[[], str | None]):
    """What the service's endpoint adds to its processes' samples: the versions loaded and
    active as an info gauge, and a filter that keeps version-labelled samples to those."""

    def keep(metric: Metric) -> Metric:
        current = loaded()
        metric.samples = [
            sample
            for sample in metric.samples
            if _VERSION_LABEL not in sample.labels or sample.labels[_VERSION_LABEL] in current
        ]
        return metric

    return keep, _VersionInfo(loaded, active)


class _VersionInfo(Collector):
    def __init__(self, loaded: Callable[[], set[str]], active: Callable[[], str | None]):
        self._loaded = loaded
        self._active = active

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "textclf_model_version_info",
            "1 for each model version this server holds loaded; state says whether it is "
            "the active one (the one answering predictions that name none).",
            labels=[_VERSION_LABEL, "state"],
        )
        active = self._active()
        for version in sorted(self._loaded()):
            family.add_metric([version, "active" if version == active else "loaded"], 1)
        yield family


class TrafficShareCollector(Collector):
    """textclf_traffic_share{model_id, role}: the share of predictions naming no version that
    each version takes now, as TRAFFIC and ACTIVE say (the shadow's: the share it also scores)."""

    def __init__(self, shares: Callable[[], list[tuple[str, str, float]]]):
        self._shares = shares

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "textclf_traffic_share",
            "Share of the predictions that name no version each version answers (champion, "
            "canary) or also scores (shadow), from 0 to 1.",
            labels=["model_id", "role"],
        )
        for model_id, role, share in self._shares():
            family.add_metric([model_id, role], share)
        yield family
