"""The gRPC server: the servicers of algorithm.serving.grpc_servicers, health and reflection,
assembled and started.

Run with ``python -m algorithm.serving.grpc_server``; it listens on ALGORITHM_GRPC_PORT with
ALGORITHM_GRPC_PROCESSES processes (algorithm/serving/grpc_processes.py).
"""

import logging
import signal
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from algorithm import settings
from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_pb2_grpc
from algorithm.serving import drift_metrics, grpc_processes, traffic
from algorithm.serving import metrics as algorithm_metrics
from algorithm.serving.grpc_servicers import (
    InferenceServicer,
    InfoServicer,
    ModelServicer,
    MonitoringServicer,
    PredictionServicer,
    PromotionServicer,
    TrainingServicer,
)
from algorithm.serving.grpc_traffic import TrafficServicer
from algorithm.serving.live_accuracy_metrics import LiveAccuracyCollector
from algorithm.serving.metrics import MetricsInterceptor
from algorithm.serving.model_repository import model_repository
from algorithm.serving.service_auth import CredentialInterceptor, ServiceCredential
from algorithm.serving.services import prediction
from algorithm.v1 import (
    info_pb2,
    info_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    monitoring_pb2,
    monitoring_pb2_grpc,
    prediction_pb2,
    prediction_pb2_grpc,
    promotion_pb2,
    promotion_pb2_grpc,
    traffic_pb2,
    traffic_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)
from common import limits, metrics
from common import settings as common_settings
from common.logs import configure_logging

logger = logging.getLogger(__name__)

# Each client connection is closed (GOAWAY) after this long, plus or minus a tenth, so that
# clients resolve the service's name again: replicas started since take their share of calls
# within about this long. Calls under way finish on the old connection, with no time limit,
# so a WatchJob stream runs to its job's end.
MAX_CONNECTION_AGE_MS = 20_000
# grpc.health.v1 Watch streams open at once. They are open to every caller and hold no thread
# (the handler is non-blocking), but each holds a stream and is answered at every change, so
# they are capped too; a process has a handful of legitimate watchers at most (a client
# channel's health checking opens one).
MAX_HEALTH_WATCHERS = 32
PREDICTION_SERVICE = prediction_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name
SERVICE_NAMES = (
    PREDICTION_SERVICE,
    training_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name,
    models_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    info_pb2.DESCRIPTOR.services_by_name["InfoService"].full_name,
    monitoring_pb2.DESCRIPTOR.services_by_name["MonitoringService"].full_name,
    promotion_pb2.DESCRIPTOR.services_by_name["PromotionService"].full_name,
    oip_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name,
    traffic_pb2.DESCRIPTOR.services_by_name["TrafficService"].full_name,
)


class _CappedHealth(health.HealthServicer):
    """grpc.health.v1 with at most MAX_HEALTH_WATCHERS Watch streams; one more is refused
    with RESOURCE_EXHAUSTED. Watch keeps grpcio's non-blocking flag (set in __init__)."""

    def __init__(self):
        super().__init__()
        self._slots = threading.BoundedSemaphore(MAX_HEALTH_WATCHERS)

    def Watch(self, request, context, send_response_callback=None):
        if not self._slots.acquire(blocking=False):
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{MAX_HEALTH_WATCHERS} health watches are open already; call Check instead.",
            )
        if not context.add_callback(self._slots.release):
            self._slots.release()  # the call has ended already
            return None
        return super().Watch(request, context, send_response_callback)


class _HealthStatuses:
    """grpc.health.v1 as orchestrators and web read it. The overall service ("") is SERVING
    once the process has settled on the active version (start-up gating uses it: a fresh
    stack with no model must start), PredictionService only while a version answers."""

    def __init__(self, servicer: health.HealthServicer):
        self._servicer = servicer
        self._statuses: dict[str, int] = {}

    def update(self) -> None:
        ready, predicting = model_repository.ready(), model_repository.predicting()
        for name in ("", *SERVICE_NAMES):
            serving = predicting if name == PREDICTION_SERVICE else ready
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if serving
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            # Only changes: each set() also answers every Watch call.
            if self._statuses.get(name) != status:
                self._statuses[name] = status
                self._servicer.set(name, status)


def create_server(address: str) -> tuple[grpc.Server, int]:
    """Build a server with every service registered; port 0 in address picks a free port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.GRPC_THREADS),
        maximum_concurrent_rpcs=settings.GRPC_MAX_CONCURRENT_RPCS,
        # Metrics first: calls refused for want of the credential are counted too.
        interceptors=[MetricsInterceptor(), CredentialInterceptor(ServiceCredential())],
        options=[
            ("grpc.max_receive_message_length", limits.MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", limits.MAX_MESSAGE_BYTES),
            ("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_MS),
            # The ALGORITHM_GRPC_PROCESSES servers of a replica listen on one port; gRPC's
            # default lets any server of the same user join a port, so a lone one refuses.
            ("grpc.so_reuseport", int(settings.GRPC_PROCESSES > 1)),
        ],
    )
    prediction_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(), server)
    training_pb2_grpc.add_TrainingServiceServicer_to_server(TrainingServicer(), server)
    models_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(), server)
    info_pb2_grpc.add_InfoServiceServicer_to_server(InfoServicer(), server)
    monitoring_pb2_grpc.add_MonitoringServiceServicer_to_server(MonitoringServicer(), server)
    promotion_pb2_grpc.add_PromotionServiceServicer_to_server(PromotionServicer(), server)
    oip_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(), server)
    traffic_pb2_grpc.add_TrafficServiceServicer_to_server(TrafficServicer(), server)
    health_servicer = _CappedHealth()
    model_repository.on_refresh(_HealthStatuses(health_servicer).update)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        raise SystemExit(
            f"The gRPC server cannot listen on {address}: is the port in use?"
        ) from None
    return server, port


def serve(slot: int) -> None:
    """Run one server process until SIGTERM or SIGINT, then stop it with 5 seconds' grace.
    Slot 0 serves the service's metrics: the sum of every process's samples."""
    server, port = create_server(
        f"{common_settings.LISTEN_ADDRESS}:{common_settings.ALGORITHM_GRPC_PORT}"
    )
    prediction.start_prediction_log()
    prediction.start_traffic()
    server.start()
    model_repository.start()
    if slot == 0:
        # Every process follows the same ACTIVE pointer: this one's versions stand for all.
        keep_loaded, versions = algorithm_metrics.collectors(
            model_repository.loaded_ids, model_repository.active_id
        )
        live = LiveAccuracyCollector(model_repository.store, model_repository.active_id)
        metrics.serve_if_first(
            versions,
            algorithm_metrics.ThreadsCollector(),
            algorithm_metrics.TrafficShareCollector(lambda: traffic.shares(model_repository)),
            live,
            drift_metrics.DriftCollector(
                model_repository.loaded_ids, drift_metrics.reference_profile
            ),
            keep=keep_loaded,
        )
    logger.info("gRPC server listening on port %s", port)
    stopped = threading.Event()

    def stop(signum, _frame):
        if not stopped.is_set():
            logger.info("Signal %s: stopping, in-flight calls get 5 seconds", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    server.stop(grace=5).wait()


def _name_the_process() -> None:
    """Log lines name their process: the logger's name gets the pid (name[pid])."""
    make_record = logging.getLogRecordFactory()

    def with_pid(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.name = f"{record.name}[{record.process}]"
        return record

    logging.setLogRecordFactory(with_pid)


def main() -> None:
    configure_logging("algorithm-grpc")
    _name_the_process()
    if settings.GRPC_PROCESSES == 1:
        serve(0)
    else:
        sys.exit(grpc_processes.supervise(settings.GRPC_PROCESSES, serve))


if __name__ == "__main__":
    main()
