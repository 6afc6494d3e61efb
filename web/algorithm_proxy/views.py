"""Training, jobs, predictions, model versions, metric records, schedules, results and info:
validated here, answered by the algorithm service."""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django.urls import reverse
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from common import settings as common_settings
from common.coalescing import Origin, answers
from common.proto_json import as_json
from web.accounts.scopes import Scope
from web.algorithm_proxy import drift_serializers, serializers
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.grpc_errors import AlgorithmError
from web.algorithm_proxy.live_accuracy import live_accuracy_fields
from web.algorithm_proxy.services import training_start
from web.api.middleware import request_id_of
from web.api.schema import error_responses, uuid_in_path
from web.data.selectors import data_count


class TrainView(APIView):
    @extend_schema(
        request=serializers.TrainRequestSerializer,
        responses={202: serializers.JobSerializer, **error_responses(400, 401, 403, 409, 503)},
        summary="Start training on the current data",
        description="Queues a training job and returns it at once; follow it at "
        "`/api/jobs/{job_id}/`. Every field is optional. A repeated `request_id` "
        "returns the job it started the first time instead of a new one. `promotion: true` "
        "(admin scope) trains a challenger: published, not activated, then promoted or kept "
        "by the promotion policy's rule on the evaluation set (409 without a set, or while "
        "another challenger is in flight); see `/api/promotion/decisions/`.",
    )
    def post(self, request):
        return _queued_training(request)


def _queued_training(request, base_model_id: str = "") -> Response:
    """A training job for the body's algorithm, parameters and request id (retraining
    base_model_id); with promotion, a challenger's, which needs the admin scope."""
    job = training_start(body=request.data, scopes=request.auth.scopes, base_model_id=base_model_id)
    location = reverse("job-detail", kwargs={"job_id": job.job_id})
    return Response(as_json(job), status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class JobListView(APIView):
    @extend_schema(
        operation_id="jobs_list",
        parameters=[serializers.ModelPageParamsSerializer],
        responses={200: serializers.JobPageSerializer, **error_responses(400, 401, 404, 503)},
        summary="Jobs, newest first: training and evaluation, with state and progress",
    )
    def get(self, request):
        def fetch(size: int, token: str) -> tuple[Sequence[Any], int, str]:
            result = algorithm_client().list_jobs(page_size=size, page_token=token)
            return result.jobs, result.total_size, result.next_page_token

        return service_page(request, fetch)


@uuid_in_path("job_id")
class JobDetailView(APIView):
    @extend_schema(
        responses={200: serializers.JobSerializer, **error_responses(400, 401, 404, 503)},
        summary="A job's state, progress and outcome",
    )
    def get(self, request, job_id: str):
        return Response(as_json(algorithm_client().get_job(job_id=job_id)))


# "text" answers one prediction, "texts" a list of them.
_OneOrManyPredictions = PolymorphicProxySerializer(
    component_name="PredictionOneOrMany",
    serializers=[serializers.PredictionSerializer, serializers.PredictionSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)


@dataclass(frozen=True)
class PredictParams:
    """A valid prediction request: its texts, whether it asked for one ({"text"}, answered
    with one prediction) or a list ({"texts"}), a version ("" asks for the active one), and
    each text's origin, which the algorithm service's prediction log records."""

    texts: list[str]
    one: bool
    model_id: str
    origins: list[Origin]
    explain: bool = False


class PredictView(APIView):
    """Requests of the usual shape are answered on the event loop through this view's own
    steps (web/algorithm_proxy/predict_asgi.py); the rest here, the same way."""

    required_scope: ClassVar = {"POST": Scope.PREDICT}

    @staticmethod
    def params(data: Any, request: Any) -> PredictParams:
        """The parameters of a request body, sent by an authenticated request; or the
        ValidationError naming each field at fault."""
        params = serializers.PredictRequestSerializer(data=data)
        params.is_valid(raise_exception=True)
        valid = params.validated_data
        one = "text" in valid
        if one:
            texts, references = [valid["text"]], [valid.get("reference", "")]
        else:
            texts = valid["texts"]
            references = valid.get("references") or [""] * len(texts)
        caller, request_id = request.auth.caller, request_id_of(request)
        origins = [Origin(reference, caller, request_id) for reference in references]
        return PredictParams(texts, one, str(valid["model_id"] or ""), origins, valid["explain"])

    @extend_schema(
        request=serializers.PredictRequestSerializer,
        responses={
            200: _OneOrManyPredictions,
            **error_responses(400, 401, 404, 409, 413, 503),
        },
        summary="Classify one text, or a list of texts",
        description='`{"text": "..."}` answers one prediction; `{"texts": [...]}` answers a '
        "list of predictions in the same order. `model_id` picks a version; by default the "
        "active one answers. The label is always the one with the highest score. Each "
        "prediction has its `prediction_id`; a `reference` (or `references`, one per text) "
        'of your own names it too. `"explain": true` adds each prediction\'s `explanation`.',
    )
    def post(self, request):
        params = self.params(request.data, request)
        client, model_id, explain = algorithm_client(), params.model_id, params.explain
        if params.one:
            origin = params.origins[0]
            one = client.predict(
                text=params.texts[0], model_id=model_id, origin=origin, explain=explain
            )
            return Response(one)
        batch = client.predict_batch(
            texts=params.texts, model_id=model_id, origins=params.origins, explain=explain
        )
        return Response(answers(batch))


class AlgorithmListView(APIView):
    @extend_schema(
        responses={200: serializers.AlgorithmSerializer(many=True), **error_responses(401, 503)},
        summary="The algorithms training accepts, with their parameters",
    )
    def get(self, request):
        return Response([as_json(found) for found in algorithm_client().list_algorithms()])


class ModelListView(APIView):
    @extend_schema(
        operation_id="models_list",
        parameters=[serializers.ModelPageParamsSerializer],
        responses={200: serializers.ModelPageSerializer, **error_responses(400, 401, 404, 503)},
        summary="Model versions, newest first",
    )
    def get(self, request):
        def fetch(size: int, token: str) -> tuple[Sequence[Any], int, str]:
            result = algorithm_client().list_models(page_size=size, page_token=token)
            return result.models, result.total_size, result.next_page_token

        return service_page(request, fetch)


def service_page(request, fetch: Callable[[int, str], tuple[Sequence[Any], int, str]]) -> Response:
    """A page of a list the algorithm service pages by token (an offset), as REST pages it:
    ?page= and ?page_size= checked, 404 past the last page, links to the neighbours. fetch
    takes the page size and token and returns the items, their total and the next token."""
    params = serializers.ModelPageParamsSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    page, size = params.validated_data["page"], params.validated_data["page_size"]
    items, total, next_token = fetch(size, str((page - 1) * size))
    if page > 1 and not items:
        raise NotFound(f"There is no page {page}.")

    def link(number: int) -> str:
        return replace_query_param(request.build_absolute_uri(), "page", number)

    return Response(
        {
            "count": total,
            "next": link(page + 1) if next_token else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": [as_json(item) for item in items],
        }
    )


@uuid_in_path("model_id")
class ModelDetailView(APIView):
    # A deleted version cannot be brought back, unlike everything else write does.
    required_scope: ClassVar = {"DELETE": Scope.ADMIN}

    @extend_schema(
        responses={
            200: drift_serializers.ModelDetailSerializer,
            **error_responses(400, 401, 404, 503),
        },
        summary="A model version's record, with its drift and its live accuracy from feedback",
        description="Its drift: what the answering algorithm replica served of the version "
        "since it started, against the version's hold-out set at training.",
    )
    def get(self, request, model_id: str):
        reply = algorithm_client().get_model(model_id=model_id)
        return Response(
            {
                **as_json(reply.model),
                "drift": as_json(reply.drift),
                **live_accuracy_fields(model_id=model_id),
            }
        )

    @extend_schema(
        responses={204: None, **error_responses(400, 401, 404, 409, 503)},
        summary="Delete a model version",
        description="Deletes its files, its record and its metric records. The active version "
        "cannot be deleted (409): activate another one first.",
    )
    def delete(self, request, model_id: str):
        algorithm_client().delete_model(model_id=model_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@uuid_in_path("model_id")
class ModelActivateView(APIView):
    @extend_schema(
        request=None,
        responses={200: serializers.ModelSerializer, **error_responses(400, 401, 404, 409, 503)},
        summary="Serve this version by default (roll back or forward)",
        description="Predictions without a `model_id` use it within a second; no restart.",
    )
    def post(self, request, model_id: str):
        return Response(as_json(algorithm_client().activate_model(model_id=model_id)))


@uuid_in_path("model_id")
class ModelRetrainView(APIView):
    @extend_schema(
        request=serializers.TrainRequestSerializer,
        responses={
            202: serializers.JobSerializer,
            **error_responses(400, 401, 403, 404, 409, 503),
        },
        summary="Retrain: a new version with this one's algorithm and parameters",
        description="Trains on the current data table with the algorithm and parameters of "
        "this version; `algorithm` and `parameters` in the body override them. "
        "`promotion: true` (admin scope) makes it a challenger, as `/api/train/` does.",
    )
    def post(self, request, model_id: str):
        return _queued_training(request, base_model_id=model_id)


@uuid_in_path("model_id")
class ModelEvaluateView(APIView):
    @extend_schema(
        request=serializers.EvaluateRequestSerializer,
        responses={
            202: serializers.MetricRecordSerializer,
            **error_responses(400, 401, 404, 413, 503),
        },
        summary="Evaluate a version: queues a job that fills a new metric record",
        description="On the current data table, or on the `rows` sent. Answers with the "
        "metric record at once; its `job_id` can be followed at `/api/jobs/{job_id}/` and "
        "the record read at `/api/metrics/{metric_id}/` (metrics once the job succeeded).",
    )
    def post(self, request, model_id: str):
        params = serializers.EvaluateRequestSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        record = algorithm_client().evaluate_model(
            model_id=model_id, rows=params.validated_data.get("rows")
        )
        location = reverse("metric-detail", kwargs={"metric_id": record.metric_id})
        return Response(
            as_json(record), status=status.HTTP_202_ACCEPTED, headers={"Location": location}
        )


@uuid_in_path("model_id")
class ModelMetricListView(APIView):
    @extend_schema(
        responses={
            200: serializers.MetricRecordSerializer(many=True),
            **error_responses(400, 401, 404, 503),
        },
        summary="A version's metric records, newest first",
    )
    def get(self, request, model_id: str):
        records = algorithm_client().list_metric_records(model_id=model_id)
        return Response([as_json(record) for record in records])


@uuid_in_path("metric_id")
class MetricDetailView(APIView):
    @extend_schema(
        responses={200: serializers.MetricRecordSerializer, **error_responses(400, 401, 404, 503)},
        summary="A metric record",
    )
    def get(self, request, metric_id: str):
        return Response(as_json(algorithm_client().get_metric_record(metric_id=metric_id)))

    @extend_schema(
        responses={204: None, **error_responses(400, 401, 404, 409, 503)},
        summary="Delete a metric record",
        description="A record whose job is still running cannot be deleted (409).",
    )
    def delete(self, request, metric_id: str):
        algorithm_client().delete_metric_record(metric_id=metric_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InfoView(APIView):
    @extend_schema(
        responses={200: serializers.InfoSerializer, **error_responses(401)},
        summary="Build, uptime, the deployed model and its training metrics, counts",
        description="`algorithm` is null (and `algorithm_error` says why) when the algorithm "
        "service cannot be reached; the rest is still answered.",
    )
    def get(self, request):
        try:
            algorithm, algorithm_error = as_json(algorithm_client().get_info()), None
        except AlgorithmError as error:
            algorithm, algorithm_error = None, str(error.detail)
        return Response(
            {
                "version": common_settings.VERSION,
                "build_time": common_settings.BUILD_TIME,
                "git_revision": common_settings.GIT_REVISION,
                "uptime_seconds": round(time.time() - common_settings.STARTED_AT, 3),
                "data_rows": data_count(),
                "algorithm": algorithm,
                "algorithm_error": algorithm_error,
            }
        )
