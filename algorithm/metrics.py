"""The algorithm service's Prometheus metrics: gRPC calls, predictions and model loads.

gRPC calls follow the names go-grpc-prometheus made usual (``grpc_server_handled_total``,
``grpc_server_handling_seconds``), so existing dashboards read them. Model versions appear as
label values only while loaded: the endpoint leaves out the samples of any other version
(see ``collectors``), so the series stay as few as the model cache holds.
"""

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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
    handler, so method names are as few as the services define)."""

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
            return grpc.unary_stream_rpc_method_handler(
                _server_stream(handler.unary_stream, service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # no client-streaming method is defined


def _record(service: str, method: str, kind: str, context, started: float, failed: bool):
    code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
    GRPC_HANDLED.labels(service, method, kind, code.name).inc()
    GRPC_HANDLING_SECONDS.labels(service, method, kind).observe(time.perf_counter() - started)


def _unary(behavior: Callable, service: str, method: str) -> Callable:
    def counted(request, context):
        started, failed = time.perf_counter(), True
        try:
            response = behavior(request, context)
            failed = False
            return response
        finally:
            _record(service, method, "unary", context, started, failed)

    return counted


def _server_stream(behavior: Callable, service: str, method: str) -> Callable:
    def counted(request, context):
        started, failed = time.perf_counter(), True
        try:
            yield from behavior(request, context)
            failed = False
        finally:
            _record(service, method, "server_stream", context, started, failed)

    return counted


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
