"""The web app's one way to reach the algorithm service: its generated gRPC stubs.

Each method is one call, with the request built from plain arguments and the service's
reply returned as its proto message; views write replies out with common.proto_json. Errors
are AlgorithmError with the REST status they mean (grpc_errors.py).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import grpc
from django.conf import settings
from grpc_health.v1 import health_pb2, health_pb2_grpc

from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_pb2_grpc
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
from common import settings as common_settings
from common.coalescing import (
    AsyncPredictionCoalescer,
    BatchPrediction,
    Origin,
    Prediction,
    PredictionCoalescer,
)
from common.proto_json import as_json
from web.algorithm_proxy.channel import (
    CHANNEL_OPTIONS,
    HEALTH_DEADLINE_SECONDS,
    PREDICT_DEADLINE_SECONDS,
    PREDICTION_SERVICE,
    ServiceChannel,
    authorization,
    call_metadata,
    coalescing,
)
from web.algorithm_proxy.grpc_errors import rest_error


def _predict_request(
    text: str, model_id: str, origin: Origin, explain: bool = False
) -> prediction_pb2.PredictRequest:
    return prediction_pb2.PredictRequest(
        text=text,
        model_id=model_id,
        reference=origin.reference,
        caller=origin.caller,
        request_id=origin.request_id,
        explain=explain,
    )


def _predict_batch_request(
    texts: list[str], model_id: str, origins: Sequence[Origin], explain: bool = False
) -> prediction_pb2.PredictBatchRequest:
    """The call for texts of these origins, one per text: each of the origins' fields goes as
    a list parallel to the texts, or as none when no text has one."""
    return prediction_pb2.PredictBatchRequest(
        texts=texts,
        model_id=model_id,
        references=_per_text([origin.reference for origin in origins]),
        callers=_per_text([origin.caller for origin in origins]),
        request_ids=_per_text([origin.request_id for origin in origins]),
        explain=explain,
    )


def _per_text(values: list[str]) -> list[str]:
    return values if any(values) else []


# The replies in the coalescer's shapes, written by the one mapping of messages to JSON: a
# field added to the messages reaches the answers with no edit here.


def _batch_prediction(reply: prediction_pb2.PredictBatchResponse) -> BatchPrediction:
    return cast(BatchPrediction, as_json(reply))


def _prediction(reply: prediction_pb2.PredictResponse) -> Prediction:
    answer = as_json(reply)
    # Answered only to a call that asked for it, as the coalescer's answers (which never ask).
    if answer["explanation"] is None:
        del answer["explanation"]
    return cast(Prediction, answer)


class AlgorithmClient:
    """Calls to the algorithm service at `target`; single predictions go out coalesced into
    batches."""

    def __init__(self, target: str):
        self.channel = ServiceChannel(target)
        self._predict = (
            PredictionCoalescer(
                lambda texts, model_id, origins: self.predict_batch(
                    texts=texts, model_id=model_id, origins=origins
                ),
                **coalescing(),
            ).predict
            if common_settings.PREDICT_COALESCING
            else self._predict_alone
        )

    def readiness(self) -> dict[str, bool]:
        """grpc.health.v1: the overall service ("ready": settled on the active version) and
        PredictionService ("predicting": a version answers)."""
        health = self.channel.stub(health_pb2_grpc.HealthStub)
        states = {}
        for key, service in (("ready", ""), ("predicting", PREDICTION_SERVICE)):
            try:
                reply = health.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=HEALTH_DEADLINE_SECONDS
                )
            except grpc.RpcError:
                reply = health_pb2.HealthCheckResponse()
            states[key] = reply.status == health_pb2.HealthCheckResponse.SERVING
        return states

    # Predictions: in the coalescer's shapes, as it shares batch replies out.

    def predict(
        self, *, text: str, model_id: str, origin: Origin, explain: bool = False
    ) -> Prediction:
        """One text's prediction; explained ones go alone, as the service scores them."""
        if explain:
            return self._predict_alone(text=text, model_id=model_id, origin=origin, explain=True)
        return self._predict(text=text, model_id=model_id, origin=origin)

    def _predict_alone(
        self, *, text: str, model_id: str, origin: Origin, explain: bool = False
    ) -> Prediction:
        stub = self.channel.stub(prediction_pb2_grpc.PredictionServiceStub)
        request = _predict_request(text, model_id, origin, explain)
        return _prediction(self.channel.call(stub.Predict, request, PREDICT_DEADLINE_SECONDS))

    def predict_batch(
        self, *, texts: list[str], model_id: str, origins: Sequence[Origin], explain: bool = False
    ) -> BatchPrediction:
        """The texts' predictions, in order; origins: one per text."""
        stub = self.channel.stub(prediction_pb2_grpc.PredictionServiceStub)
        request = _predict_batch_request(texts, model_id, origins, explain)
        reply = self.channel.call(stub.PredictBatch, request, PREDICT_DEADLINE_SECONDS)
        return _batch_prediction(reply)

    # Training and jobs.

    def _training(self) -> training_pb2_grpc.TrainingServiceStub:
        return self.channel.stub(training_pb2_grpc.TrainingServiceStub)

    def train(
        self,
        *,
        algorithm: str,
        parameters: Mapping[str, Any] | None,  # the caller's JSON object
        request_id: str,
        base_model_id: str = "",
        promotion: bool = False,
    ) -> training_pb2.Job:
        """A new training job; with base_model_id, a retraining of that version whose
        algorithm and parameters the given ones override; with promotion, a challenger's."""
        request = training_pb2.TrainRequest(
            algorithm=algorithm,
            request_id=request_id,
            base_model_id=base_model_id,
            promotion=promotion,
        )
        if parameters is not None:
            request.parameters.update(parameters)
        return self.channel.call(self._training().Train, request).job

    def get_job(self, *, job_id: str) -> training_pb2.Job:
        request = training_pb2.GetJobRequest(job_id=job_id)
        return self.channel.call(self._training().GetJob, request).job

    def list_jobs(self, *, page_size: int, page_token: str) -> training_pb2.ListJobsResponse:
        request = training_pb2.ListJobsRequest(page_size=page_size, page_token=page_token)
        return self.channel.call(self._training().ListJobs, request)

    def list_algorithms(self) -> Sequence[training_pb2.Algorithm]:
        request = training_pb2.ListAlgorithmsRequest()
        return self.channel.call(self._training().ListAlgorithms, request).algorithms

    # Model versions and their metric records.

    def _models(self) -> models_pb2_grpc.ModelServiceStub:
        return self.channel.stub(models_pb2_grpc.ModelServiceStub)

    def list_models(self, *, page_size: int, page_token: str) -> models_pb2.ListModelsResponse:
        request = models_pb2.ListModelsRequest(page_size=page_size, page_token=page_token)
        return self.channel.call(self._models().ListModels, request)

    def get_model(self, *, model_id: str) -> models_pb2.GetModelResponse:
        """A version's record (model) and its drift."""
        request = models_pb2.GetModelRequest(model_id=model_id)
        return self.channel.call(self._models().GetModel, request)

    def get_live_accuracy(self, *, model_id: str) -> models_pb2.GetLiveAccuracyResponse:
        request = models_pb2.GetLiveAccuracyRequest(model_id=model_id)
        return self.channel.call(self._models().GetLiveAccuracy, request)

    def activate_model(self, *, model_id: str) -> models_pb2.Model:
        request = models_pb2.ActivateModelRequest(model_id=model_id)
        return self.channel.call(self._models().ActivateModel, request).model

    def delete_model(self, *, model_id: str) -> None:
        self.channel.call(
            self._models().DeleteModel, models_pb2.DeleteModelRequest(model_id=model_id)
        )

    def evaluate_model(
        self, *, model_id: str, rows: Sequence[Mapping[str, str]] | None
    ) -> models_pb2.MetricRecord:
        """A metric record whose job evaluates the version on the data table, or on `rows`
        ({"text", "label"} each) when given."""
        request = models_pb2.EvaluateModelRequest(
            model_id=model_id,
            rows=[models_pb2.LabelledText(text=r["text"], label=r["label"]) for r in rows or ()],
        )
        return self.channel.call(self._models().EvaluateModel, request).metric_record

    def get_metric_record(self, *, metric_id: str) -> models_pb2.MetricRecord:
        request = models_pb2.GetMetricRecordRequest(metric_id=metric_id)
        return self.channel.call(self._models().GetMetricRecord, request).metric_record

    def list_metric_records(self, *, model_id: str) -> Sequence[models_pb2.MetricRecord]:
        request = models_pb2.ListMetricRecordsRequest(model_id=model_id)
        return self.channel.call(self._models().ListMetricRecords, request).metric_records

    def delete_metric_record(self, *, metric_id: str) -> None:
        request = models_pb2.DeleteMetricRecordRequest(metric_id=metric_id)
        self.channel.call(self._models().DeleteMetricRecord, request)

    def get_info(self) -> info_pb2.GetInfoResponse:
        stub = self.channel.stub(info_pb2_grpc.InfoServiceStub)
        return self.channel.call(stub.GetInfo, info_pb2.GetInfoRequest())

    # Accuracy monitoring.

    def _monitoring(self) -> monitoring_pb2_grpc.MonitoringServiceStub:
        return self.channel.stub(monitoring_pb2_grpc.MonitoringServiceStub)

    def set_schedule(self, *, model_id: str, cron_expression: str) -> monitoring_pb2.Schedule:
        request = monitoring_pb2.SetScheduleRequest(
            model_id=model_id, cron_expression=cron_expression
        )
        return self.channel.call(self._monitoring().SetSchedule, request).schedule

    def get_schedule(self, *, model_id: str) -> monitoring_pb2.Schedule:
        request = monitoring_pb2.GetScheduleRequest(model_id=model_id)
        return self.channel.call(self._monitoring().GetSchedule, request).schedule

    def list_schedules(self) -> Sequence[monitoring_pb2.Schedule]:
        request = monitoring_pb2.ListSchedulesRequest()
        return self.channel.call(self._monitoring().ListSchedules, request).schedules

    def delete_schedule(self, *, model_id: str) -> None:
        request = monitoring_pb2.DeleteScheduleRequest(model_id=model_id)
        self.channel.call(self._monitoring().DeleteSchedule, request)

    def create_result(
        self, *, model_id: str, y_true: Sequence[Any], y_pred: Sequence[Any]
    ) -> monitoring_pb2.CreateResultResponse:
        request = monitoring_pb2.CreateResultRequest(model_id=model_id)
        request.y_true.extend(y_true)
        request.y_pred.extend(y_pred)
        return self.channel.call(self._monitoring().CreateResult, request)

    def get_accuracy(self, *, model_id: str) -> monitoring_pb2.GetAccuracyResponse:
        request = monitoring_pb2.GetAccuracyRequest(model_id=model_id)
        return self.channel.call(self._monitoring().GetAccuracy, request)

    # The Open Inference Protocol (inference.GRPCInferenceService), which /v2 serves.

    def _inference(self) -> oip_pb2_grpc.GRPCInferenceServiceStub:
        return self.channel.stub(oip_pb2_grpc.GRPCInferenceServiceStub)

    def server_live(self) -> bool:
        return self.channel.call(self._inference().ServerLive, oip_pb2.ServerLiveRequest()).live

    def server_ready(self) -> bool:
        request = oip_pb2.ServerReadyRequest()
        return self.channel.call(self._inference().ServerReady, request).ready

    def model_ready(self, *, name: str, version: str) -> bool:
        request = oip_pb2.ModelReadyRequest(name=name, version=version)
        return self.channel.call(self._inference().ModelReady, request).ready

    def server_metadata(self) -> oip_pb2.ServerMetadataResponse:
        request = oip_pb2.ServerMetadataRequest()
        return self.channel.call(self._inference().ServerMetadata, request)

    def model_metadata(self, *, name: str, version: str) -> oip_pb2.ModelMetadataResponse:
        request = oip_pb2.ModelMetadataRequest(name=name, version=version)
        return self.channel.call(self._inference().ModelMetadata, request)

    def model_infer(self, request: oip_pb2.ModelInferRequest) -> oip_pb2.ModelInferResponse:
        return self.channel.call(self._inference().ModelInfer, request, PREDICT_DEADLINE_SECONDS)


class AsyncPredictions:
    """Predictions over grpc.aio for the endpoint served on the event loop
    (web/algorithm_proxy/predict_asgi.py): the same channel settings, deadline, credential,
    coalescing and errors as AlgorithmClient, with calls that wait without a thread. Made
    inside the worker's event loop, which its channel belongs to."""

    def __init__(self, target: str):
        self._credential = authorization()
        # Each channel its own connections: channels with the same options share them.
        options = (*CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1))
        self._channels = [
            grpc.aio.insecure_channel(target, options=options)
            for _ in range(settings.ALGORITHM_GRPC_CONNECTIONS)
        ]
        self._stubs = [prediction_pb2_grpc.PredictionServiceStub(c) for c in self._channels]
        self._under_way = [0] * len(self._stubs)
        self._next = 0
        self._predict = (
            AsyncPredictionCoalescer(self.predict_batch, **coalescing()).predict
            if common_settings.PREDICT_COALESCING
            else self._predict_alone
        )

    async def predict(
        self, *, text: str, model_id: str, origin: Origin, explain: bool = False
    ) -> Prediction:
        if explain:
            return await self._predict_alone(
                text=text, model_id=model_id, origin=origin, explain=True
            )
        return await self._predict(text=text, model_id=model_id, origin=origin)

    async def _predict_alone(
        self, *, text: str, model_id: str, origin: Origin, explain: bool = False
    ) -> Prediction:
        request = _predict_request(text, model_id, origin, explain)
        return _prediction(await self._call(lambda stub: stub.Predict, request))

    async def predict_batch(
        self, texts: list[str], model_id: str, origins: Sequence[Origin], explain: bool = False
    ) -> BatchPrediction:
        request = _predict_batch_request(texts, model_id, origins, explain)
        return _batch_prediction(await self._call(lambda stub: stub.PredictBatch, request))

    async def _call(self, method: Callable[[Any], Any], request: Any) -> Any:
        """The call on the connection with the fewest under way, the next in turn on a tie."""
        count = len(self._stubs)
        index = min(
            ((self._next + step) % count for step in range(count)),
            key=self._under_way.__getitem__,
        )
        self._next = (index + 1) % count
        self._under_way[index] += 1
        try:
            return await method(self._stubs[index])(
                request,
                timeout=PREDICT_DEADLINE_SECONDS,
                metadata=call_metadata(self._credential),
            )
        except grpc.RpcError as error:
            raise rest_error(error) from error
        finally:
            self._under_way[index] -= 1

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


_clients: dict[str, AlgorithmClient] = {}


def algorithm_client() -> AlgorithmClient:
    """The process's client of the service at ALGORITHM_GRPC_TARGET (one per target, which
    tests move)."""
    target = settings.ALGORITHM_GRPC_TARGET
    if target not in _clients:
        _clients[target] = AlgorithmClient(target)
    return _clients[target]


def service_call(stub_class: Callable[[grpc.Channel], Any], method: str, request: Any) -> Any:
    """A unary method of one of the service's stubs (PromotionService's, TrafficService's),
    by the name its .proto gives it, through the one channel and its error mapping."""
    channel = algorithm_client().channel
    return channel.call(getattr(channel.stub(stub_class), method), request)
