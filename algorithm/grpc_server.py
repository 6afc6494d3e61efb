"""The gRPC server: thin servicers over algorithm.service, plus health and reflection.

Run with ``python -m algorithm.grpc_server``; it listens on ALGORITHM_GRPC_PORT.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from algorithm import monitoring, settings
from algorithm.errors import ServiceError
from algorithm.model_cache import model_server
from algorithm.services import info, models, prediction, training
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
from common import settings as common_settings
from common.logs import clean_id, configure_logging, correlated
from common.wire import NO_RETRY_METADATA, REQUEST_ID_METADATA, SERVICE_ERROR_METADATA

logger = logging.getLogger(__name__)

# Each client connection is closed (GOAWAY) after this long, plus or minus a tenth, so that
# clients resolve the service's name again: replicas started since take their share of calls
# within about this long. Calls under way finish on the old connection, with no time limit,
# so a WatchJob stream runs to its job's end.
MAX_CONNECTION_AGE_MS = 20_000
WATCH_POLL_SECONDS = 0.25
# A watch holds a server thread for as long as the job runs: cap them so that watchers can
# never take every thread away from predictions.
MAX_WATCHERS = max(1, settings.GRPC_THREADS // 4)
_watch_slots = threading.BoundedSemaphore(MAX_WATCHERS)
SERVICE_NAMES = (
    prediction_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name,
    training_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name,
    models_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    info_pb2.DESCRIPTOR.services_by_name["InfoService"].full_name,
    monitoring_pb2.DESCRIPTOR.services_by_name["MonitoringService"].full_name,
)


def _call(context: grpc.ServicerContext, function: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a service function; its ServiceError becomes the matching status with its message."""
    metadata = dict(context.invocation_metadata() or ())
    with correlated(clean_id(metadata.get(REQUEST_ID_METADATA)) or "-"):
        try:
            return function(**kwargs)
        except ServiceError as error:
            context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
            context.abort(error.grpc_code, error.message)
        except Exception:
            logger.exception("Unexpected error in %s", function.__name__)
            context.abort(
                grpc.StatusCode.INTERNAL, "Internal error; the server log has the details."
            )


def _job_message(job: dict[str, Any]) -> training_pb2.Job:
    message = training_pb2.Job(
        job_id=job["job_id"],
        kind=training_pb2.JobKind.Value(f"JOB_KIND_{job['kind'].upper()}"),
        state=training_pb2.JobState.Value(f"JOB_STATE_{job['state'].upper()}"),
        stage=training_pb2.JobStage.Value(f"JOB_STAGE_{(job['stage'] or 'unspecified').upper()}"),
        progress=job["progress"],
        rows_read=job["rows_read"],
        rows_total=job["rows_total"],
        algorithm=job["algorithm"],
        model_id=job["model_id"] or "",
        metric_id=job["metric_id"] or "",
        error=job["error"] or "",
    )
    message.parameters.update(job["parameters"])
    _fill_metrics(message.metrics, job["metrics"])
    _fill_times(message, job, ("create_time", "start_time", "end_time"))
    return message


def _fill_metrics(target: training_pb2.Metrics, metrics: dict[str, Any] | None) -> None:
    if not metrics:
        return
    metrics = dict(metrics)
    matrix = metrics.pop("confusion_matrix", None)
    json_format.ParseDict(metrics, target, ignore_unknown_fields=True)
    if matrix:
        target.confusion_matrix.labels.extend(matrix["labels"])
        for row in matrix["rows"]:
            target.confusion_matrix.rows.add(counts=row)


def _fill_times(message: Any, values: dict[str, Any], fields: tuple[str, ...]) -> None:
    for field in fields:
        if values[field]:
            getattr(message, field).FromJsonString(values[field])


def _model_message(model: dict[str, Any]) -> models_pb2.Model:
    message = models_pb2.Model(
        model_id=model["model_id"],
        algorithm=model["algorithm"],
        labels=model["labels"],
        row_count=model["row_count"],
        training_seconds=model["training_seconds"],
        library_versions=model["library_versions"],
        active=model["active"],
        job_id=model["job_id"] or "",
    )
    message.parameters.update(model["parameters"])
    message.data_snapshot.update(model["data_snapshot"])
    _fill_metrics(message.metrics, model["metrics"])
    _fill_times(message, model, ("create_time",))
    return message


def _metric_record_message(record: dict[str, Any]) -> models_pb2.MetricRecord:
    message = models_pb2.MetricRecord(
        metric_id=record["metric_id"],
        model_id=record["model_id"],
        job_id=record["job_id"],
        state=training_pb2.JobState.Value(f"JOB_STATE_{record['state'].upper()}"),
        source=models_pb2.EvaluationSource.Value(f"EVALUATION_SOURCE_{record['source'].upper()}"),
        row_count=record["row_count"],
        error=record["error"] or "",
    )
    _fill_metrics(message.metrics, record["metrics"])
    _fill_times(message, record, ("create_time", "end_time"))
    return message


class PredictionServicer(prediction_pb2_grpc.PredictionServiceServicer):
    def Predict(self, request, context):
        result = _call(context, prediction.predict, text=request.text, model_id=request.model_id)
        return prediction_pb2.PredictResponse(**result)

    def PredictBatch(self, request, context):
        result = _call(
            context, prediction.predict_batch, texts=list(request.texts), model_id=request.model_id
        )
        return prediction_pb2.PredictBatchResponse(
            predictions=[prediction_pb2.Prediction(**p) for p in result["predictions"]],
            model_id=result["model_id"],
        )


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    def Train(self, request, context):
        parameters = _plain(request.parameters) if request.HasField("parameters") else None
        job = _call(
            context,
            training.train,
            algorithm=request.algorithm,
            parameters=parameters,
            request_id=request.request_id,
            base_model_id=request.base_model_id,
        )
        return training_pb2.TrainResponse(job=_job_message(job))

    def GetJob(self, request, context):
        job = _call(context, training.get_job, job_id=request.job_id)
        return training_pb2.GetJobResponse(job=_job_message(job))

    def WatchJob(self, request, context) -> Iterator[training_pb2.WatchJobResponse]:
        if not _watch_slots.acquire(blocking=False):
            context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{MAX_WATCHERS} jobs are being watched already; poll GetJob instead.",
            )
        try:
            last = None
            while context.is_active():
                job = _call(context, training.get_job, job_id=request.job_id)
                if job != last:
                    yield training_pb2.WatchJobResponse(job=_job_message(job))
                    last = job
                if job["state"] in ("succeeded", "failed"):
                    return
                time.sleep(WATCH_POLL_SECONDS)
        finally:
            _watch_slots.release()

    def ListAlgorithms(self, request, context):
        algorithms = []
        for algorithm in _call(context, training.list_algorithms):
            message = training_pb2.Algorithm(
                name=algorithm["name"],
                description=algorithm["description"],
                is_default=algorithm["is_default"],
            )
            for parameter in algorithm["parameters"]:
                entry = message.parameters.add(
                    name=parameter["name"],
                    type=parameter["type"],
                    description=parameter["description"],
                    minimum=parameter["minimum"],
                    maximum=parameter["maximum"],
                )
                json_format.ParseDict(parameter["default"], entry.default_value)
            algorithms.append(message)
        return training_pb2.ListAlgorithmsResponse(algorithms=algorithms)


class ModelServicer(models_pb2_grpc.ModelServiceServicer):
    def ListModels(self, request, context):
        page = _call(
            context, models.list_models, page_size=request.page_size, page_token=request.page_token
        )
        return models_pb2.ListModelsResponse(
            models=[_model_message(model) for model in page["models"]],
            next_page_token=page["next_page_token"],
            total_size=page["total_size"],
        )

    def GetModel(self, request, context):
        model = _call(context, models.get_model, model_id=request.model_id)
        return models_pb2.GetModelResponse(model=_model_message(model))

    def DeleteModel(self, request, context):
        deleted = _call(context, models.delete_model, model_id=request.model_id)
        return models_pb2.DeleteModelResponse(model_id=deleted["model_id"])

    def ActivateModel(self, request, context):
        model = _call(context, models.activate_model, model_id=request.model_id)
        return models_pb2.ActivateModelResponse(model=_model_message(model))

    def EvaluateModel(self, request, context):
        rows = [(row.text, row.label) for row in request.rows] or None
        result = _call(context, models.evaluate_model, model_id=request.model_id, rows=rows)
        return models_pb2.EvaluateModelResponse(
            job=_job_message(result["job"]),
            metric_record=_metric_record_message(result["metric_record"]),
        )

    def GetMetricRecord(self, request, context):
        record = _call(context, models.get_metric_record, metric_id=request.metric_id)
        return models_pb2.GetMetricRecordResponse(metric_record=_metric_record_message(record))

    def ListMetricRecords(self, request, context):
        records = _call(context, models.list_metric_records, model_id=request.model_id)
        return models_pb2.ListMetricRecordsResponse(
            metric_records=[_metric_record_message(record) for record in records]
        )

    def DeleteMetricRecord(self, request, context):
        deleted = _call(context, models.delete_metric_record, metric_id=request.metric_id)
        return models_pb2.DeleteMetricRecordResponse(metric_id=deleted["metric_id"])


class InfoServicer(info_pb2_grpc.InfoServiceServicer):
    def GetInfo(self, request, context):
        described = _call(context, info.get_info)
        reply = info_pb2.GetInfoResponse(
            version=described["version"],
            build_time=described["build_time"],
            git_revision=described["git_revision"],
            uptime_seconds=described["uptime_seconds"],
            model_refused=described["model_refused"] or "",
            model_count=described["model_count"],
            replica=described["replica"],
            texts_predicted=described["texts_predicted"],
        )
        if described["active_model"]:
            reply.active_model.CopyFrom(_model_message(described["active_model"]))
        if described["data_rows"] is not None:
            reply.data_rows = described["data_rows"]
        return reply


def _schedule_message(schedule: dict[str, Any]) -> monitoring_pb2.Schedule:
    message = monitoring_pb2.Schedule(
        model_id=schedule["model_id"], cron_expression=schedule["cron_expression"]
    )
    _fill_times(message, schedule, ("create_time", "update_time"))
    return message


class MonitoringServicer(monitoring_pb2_grpc.MonitoringServiceServicer):
    def SetSchedule(self, request, context):
        schedule = _call(
            context,
            monitoring.schedule_upsert,
            model_id=request.model_id,
            cron_expression=request.cron_expression,
        )
        return monitoring_pb2.SetScheduleResponse(schedule=_schedule_message(schedule))

    def GetSchedule(self, request, context):
        schedule = _call(context, monitoring.schedule_get, model_id=request.model_id)
        return monitoring_pb2.GetScheduleResponse(schedule=_schedule_message(schedule))

    def ListSchedules(self, request, context):
        schedules = _call(context, monitoring.schedule_list)
        return monitoring_pb2.ListSchedulesResponse(
            schedules=[_schedule_message(schedule) for schedule in schedules]
        )

    def DeleteSchedule(self, request, context):
        _call(context, monitoring.schedule_delete, model_id=request.model_id)
        return monitoring_pb2.DeleteScheduleResponse(model_id=request.model_id)

    def CreateResult(self, request, context):
        result = _call(
            context,
            monitoring.result_insert,
            model_id=request.model_id,
            y_true=_labels(request, "y_true"),
            y_pred=_labels(request, "y_pred"),
        )
        reply = monitoring_pb2.CreateResultResponse(
            id=result["id"], model_id=result["model_id"], samples=result["samples"]
        )
        reply.timestamp.FromJsonString(result["timestamp"])
        return reply

    def GetAccuracy(self, request, context):
        outcome = _call(context, monitoring.accuracy_get, model_id=request.model_id)
        reply = monitoring_pb2.GetAccuracyResponse(
            model_id=outcome["model_id"],
            samples=outcome["samples"],
            result_id=outcome["result_id"] or 0,
            error=outcome["error"] or "",
        )
        if outcome["accuracy"] is not None:
            reply.accuracy = outcome["accuracy"]
        if outcome["result_timestamp"]:
            reply.result_time.FromJsonString(outcome["result_timestamp"])
        reply.compute_time.FromJsonString(outcome["computed_time"])
        return reply


def _labels(request, field: str) -> list | None:
    # Whole numbers come back as floats from a ListValue: 1.0 is the label 1.
    if not request.HasField(field):
        return None
    return [
        int(value) if isinstance(value, float) and value.is_integer() else value
        for value in _plain(getattr(request, field))
    ]


def _plain(value: Any) -> Any:
    """A Struct or ListValue as plain dicts and lists. Unlike json_format.MessageToDict, which
    raises on them, NaN and the infinities stay numbers, for the service's checks to refuse
    with a message."""
    if isinstance(value, struct_pb2.Struct):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_plain(item) for item in value]
    return value


def create_server(address: str) -> tuple[grpc.Server, int]:
    """Build a server with every service registered; port 0 in address picks a free port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.GRPC_THREADS),
        options=[
            ("grpc.max_receive_message_length", limits.MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", limits.MAX_MESSAGE_BYTES),
            ("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_MS),
        ],
    )
    prediction_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(), server)
    training_pb2_grpc.add_TrainingServiceServicer_to_server(TrainingServicer(), server)
    models_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(), server)
    info_pb2_grpc.add_InfoServiceServicer_to_server(InfoServicer(), server)
    monitoring_pb2_grpc.add_MonitoringServiceServicer_to_server(MonitoringServicer(), server)
    health_servicer = health.HealthServicer()
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(address)
    return server, port


def main() -> None:
    configure_logging("algorithm-grpc")
    server, port = create_server(f"[::]:{common_settings.ALGORITHM_GRPC_PORT}")
    server.start()
    model_server.start()
    logger.info("gRPC server listening on port %s", port)
    stopped = threading.Event()

    def stop(signum, _frame):
        logger.info("Signal %s: stopping, in-flight calls get 5 seconds", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    main()
