"""The gRPC servicers, one per proto service: each call runs a function of
algorithm.serving.services, whose ServiceError becomes the matching status. The server that
serves them is assembled in algorithm.serving.grpc_server."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import struct_pb2

from algorithm import settings
from algorithm.domain.errors import InvalidArgument, ServiceError
from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_pb2_grpc
from algorithm.serving.error_status import grpc_code
from algorithm.serving.services import (
    inference,
    info,
    models,
    monitoring,
    prediction,
    promotion,
    training,
)
from algorithm.v1 import (
    info_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    monitoring_pb2,
    monitoring_pb2_grpc,
    prediction_pb2,
    prediction_pb2_grpc,
    promotion_pb2,
    promotion_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)
from common.logs import clean_id, correlated
from common.proto_json import from_json
from common.wire import NO_RETRY_METADATA, REQUEST_ID_METADATA, SERVICE_ERROR_METADATA

logger = logging.getLogger(__name__)

WATCH_POLL_SECONDS = 0.25
# A watch holds a server thread for as long as the job runs: cap them so that watchers can
# never take every thread away from predictions.
MAX_WATCHERS = max(1, settings.GRPC_THREADS // 4)
_watch_slots = threading.BoundedSemaphore(MAX_WATCHERS)
_FINAL_JOB_STATES = (training_pb2.JOB_STATE_SUCCEEDED, training_pb2.JOB_STATE_FAILED)


def _call(context: grpc.ServicerContext, function: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a service function; its ServiceError becomes the matching status with its message."""
    metadata = dict(context.invocation_metadata() or ())
    request_id = metadata.get(REQUEST_ID_METADATA)
    # Text metadata: only keys ending in -bin carry bytes.
    with correlated(clean_id(request_id if isinstance(request_id, str) else None) or "-"):
        try:
            return function(**kwargs)
        except ServiceError as error:
            context.set_trailing_metadata((SERVICE_ERROR_METADATA, NO_RETRY_METADATA))
            context.abort(grpc_code(error), error.message)
        except Exception:
            logger.exception("Unexpected error in %s", function.__name__)
            context.abort(
                grpc.StatusCode.INTERNAL, "Internal error; the server log has the details."
            )


class PredictionServicer(prediction_pb2_grpc.PredictionServiceServicer):
    def Predict(self, request, context):
        result = _call(
            context,
            prediction.predict,
            text=request.text,
            model_id=request.model_id,
            reference=request.reference,
            caller=request.caller,
            request_id=request.request_id,
            explain=request.explain,
        )
        return prediction_pb2.PredictResponse(**result)

    def PredictBatch(self, request, context):
        result = _call(
            context,
            prediction.predict_batch,
            texts=list(request.texts),
            model_id=request.model_id,
            references=list(request.references),
            callers=list(request.callers),
            request_ids=list(request.request_ids),
            explain=request.explain,
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
            promotion=request.promotion,
        )
        return training_pb2.TrainResponse(job=job)

    def GetJob(self, request, context):
        return training_pb2.GetJobResponse(
            job=_call(context, training.get_job, job_id=request.job_id)
        )

    def ListJobs(self, request, context):
        return _call(
            context, training.list_jobs, page_size=request.page_size, page_token=request.page_token
        )

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
                    yield training_pb2.WatchJobResponse(job=job)
                    last = job
                if job.state in _FINAL_JOB_STATES:
                    return
                time.sleep(WATCH_POLL_SECONDS)
        finally:
            _watch_slots.release()

    def ListAlgorithms(self, request, context):
        return _call(context, training.list_algorithms)


class ModelServicer(models_pb2_grpc.ModelServiceServicer):
    def ListModels(self, request, context):
        return _call(
            context, models.list_models, page_size=request.page_size, page_token=request.page_token
        )

    def GetModel(self, request, context):
        return _call(context, models.get_model_detail, model_id=request.model_id)

    def DeleteModel(self, request, context):
        return _call(context, models.delete_model, model_id=request.model_id)

    def ActivateModel(self, request, context):
        model = _call(context, models.activate_model, model_id=request.model_id)
        return models_pb2.ActivateModelResponse(model=model)

    def EvaluateModel(self, request, context):
        rows = [(row.text, row.label) for row in request.rows] or None
        return _call(context, models.evaluate_model, model_id=request.model_id, rows=rows)

    def GetMetricRecord(self, request, context):
        record = _call(context, models.get_metric_record, metric_id=request.metric_id)
        return models_pb2.GetMetricRecordResponse(metric_record=record)

    def ListMetricRecords(self, request, context):
        return _call(context, models.list_metric_records, model_id=request.model_id)

    def DeleteMetricRecord(self, request, context):
        return _call(context, models.delete_metric_record, metric_id=request.metric_id)

    def GetLiveAccuracy(self, request, context):
        return _call(context, models.get_live_accuracy, model_id=request.model_id)


class InfoServicer(info_pb2_grpc.InfoServiceServicer):
    def GetInfo(self, request, context):
        return _call(context, info.get_info)


class MonitoringServicer(monitoring_pb2_grpc.MonitoringServiceServicer):
    def SetSchedule(self, request, context):
        schedule = _call(
            context,
            monitoring.schedule_upsert,
            model_id=request.model_id,
            cron_expression=request.cron_expression,
        )
        return monitoring_pb2.SetScheduleResponse(schedule=schedule)

    def GetSchedule(self, request, context):
        schedule = _call(context, monitoring.schedule_get, model_id=request.model_id)
        return monitoring_pb2.GetScheduleResponse(schedule=schedule)

    def ListSchedules(self, request, context):
        return _call(context, monitoring.schedule_list)

    def DeleteSchedule(self, request, context):
        _call(context, monitoring.schedule_delete, model_id=request.model_id)
        return monitoring_pb2.DeleteScheduleResponse(model_id=request.model_id)

    def CreateResult(self, request, context):
        return _call(
            context,
            monitoring.result_insert,
            model_id=request.model_id,
            y_true=_labels(request, "y_true"),
            y_pred=_labels(request, "y_pred"),
        )

    def GetAccuracy(self, request, context):
        return _call(context, monitoring.accuracy_get, model_id=request.model_id)


class PromotionServicer(promotion_pb2_grpc.PromotionServiceServicer):
    def GetEvaluationSet(self, request, context):
        found = _call(context, promotion.get_evaluation_set)
        return promotion_pb2.GetEvaluationSetResponse(evaluation_set=found)

    def CreateEvaluationSet(self, request, context):
        created = _call(
            context,
            promotion.create_evaluation_set,
            method=request.method,
            fraction=request.fraction,
            stratified=request.stratified if request.HasField("stratified") else True,
            seed=request.seed,
            new_rows_share=request.new_rows_share,
            data_ids=list(request.data_ids),
        )
        return promotion_pb2.CreateEvaluationSetResponse(evaluation_set=created)

    def DeleteEvaluationSet(self, request, context):
        _call(context, promotion.delete_evaluation_set)
        return promotion_pb2.DeleteEvaluationSetResponse()

    def GetPolicy(self, request, context):
        return promotion_pb2.GetPolicyResponse(policy=_call(context, promotion.get_policy))

    def SetPolicy(self, request, context):
        policy = _call(context, promotion.set_policy, policy=_policy_fields(request.policy))
        return promotion_pb2.SetPolicyResponse(policy=policy)

    def DeletePolicy(self, request, context):
        _call(context, promotion.delete_policy)
        return promotion_pb2.DeletePolicyResponse()

    def TrainChallenger(self, request, context):
        job = _call(context, promotion.train_challenger, request_id=request.request_id)
        return promotion_pb2.TrainChallengerResponse(job=job)

    def ListDecisions(self, request, context):
        return _call(
            context,
            promotion.list_decisions,
            page_size=request.page_size,
            page_token=request.page_token,
        )

    def GetDecision(self, request, context):
        decision = _call(context, promotion.get_decision, decision_id=request.decision_id)
        return promotion_pb2.GetDecisionResponse(decision=decision)


class InferenceServicer(oip_pb2_grpc.GRPCInferenceServiceServicer):
    """The Open Inference Protocol's calls, over algorithm.serving.services.inference."""

    def ServerLive(self, request, context):
        return oip_pb2.ServerLiveResponse(live=_call(context, inference.server_live))

    def ServerReady(self, request, context):
        return oip_pb2.ServerReadyResponse(ready=_call(context, inference.server_ready))

    def ModelReady(self, request, context):
        ready = _call(context, inference.model_ready, name=request.name, version=request.version)
        return oip_pb2.ModelReadyResponse(ready=ready)

    def ServerMetadata(self, request, context):
        return oip_pb2.ServerMetadataResponse(**_call(context, inference.server_metadata))

    def ModelMetadata(self, request, context):
        metadata = _call(
            context, inference.model_metadata, name=request.name, version=request.version
        )
        return from_json(oip_pb2.ModelMetadataResponse, metadata)

    def ModelInfer(self, request, context):
        result = _call(context, _model_infer, request=request)
        reply = oip_pb2.ModelInferResponse(
            model_name=result["model_name"],
            model_version=result["model_version"],
            id=result["id"],
            parameters={
                key: oip_pb2.InferParameter(string_param=value)
                for key, value in result["parameters"].items()
            },
        )
        # Standard clients read outputs from raw_output_contents (tritonclient's as_numpy).
        for tensor in result["outputs"]:
            reply.outputs.add(
                name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
            )
            reply.raw_output_contents.append(inference.raw_contents(tensor))
        return reply


def _model_infer(*, request: oip_pb2.ModelInferRequest) -> inference.InferResult:
    """ModelInfer's tensors as plain values: raw_input_contents, if sent, holds every
    input's elements, one entry per input, and then no input has contents of its own."""
    raw = list(request.raw_input_contents)
    if raw and (
        len(raw) != len(request.inputs) or any(t.HasField("contents") for t in request.inputs)
    ):
        raise InvalidArgument(
            "Send the inputs' elements either in raw_input_contents, one entry per input, "
            "or in each input's contents, not both."
        )
    inputs: list[inference.InputTensor] = [
        {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
            "data": list(tensor.contents.bytes_contents),
            "raw": raw[index] if raw else None,
        }
        for index, tensor in enumerate(request.inputs)
    ]
    return inference.model_infer(
        model_name=request.model_name,
        model_version=request.model_version,
        inputs=inputs,
        outputs=[output.name for output in request.outputs],
        request_id=request.id,
        origin=_origin_parameters(request.parameters),
    )


def _origin_parameters(parameters) -> dict[str, str]:
    """The request's `caller` and `request_id` parameters, those sent as strings."""
    return {
        name: parameters[name].string_param
        for name in (inference.CALLER, inference.REQUEST_ID)
        if name in parameters and parameters[name].WhichOneof("parameter_choice") == "string_param"
    }


def _labels(request, field: str) -> list | None:
    # Whole numbers come back as floats from a ListValue: 1.0 is the label 1.
    if not request.HasField(field):
        return None
    return [
        int(value) if isinstance(value, float) and value.is_integer() else value
        for value in _plain(getattr(request, field))
    ]


def _policy_fields(policy: promotion_pb2.PromotionPolicy) -> dict[str, Any]:
    """The policy's fields that were set; the others take the policy's defaults."""
    trigger = policy.trigger
    every = trigger.every_new_rows if trigger.HasField("every_new_rows") else None
    fields = {
        "trigger": {"every_new_rows": every, "cron_expression": trigger.cron_expression or None},
        "algorithm": policy.algorithm,
        "parameters": _plain(policy.parameters),
        "metric": policy.metric,
    }
    for name in (
        "min_improvement",
        "max_recall_drop",
        "min_shadow_agreement",
        "min_shadow_predictions",
    ):
        if policy.HasField(name):
            fields[name] = getattr(policy, name)
    return {name: value for name, value in fields.items() if value not in ("", {})}


def _plain(value: Any) -> Any:
    """A Struct or ListValue as plain dicts and lists. Unlike json_format.MessageToDict, which
    raises on them, NaN and the infinities stay numbers, for the service's checks to refuse
    with a message."""
    if isinstance(value, struct_pb2.Struct):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_plain(item) for item in value]
    return value
