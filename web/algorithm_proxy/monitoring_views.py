"""Scheduled monitoring's REST: schedules, reported results and the latest accuracy, over
the algorithm service's MonitoringService."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.proto_json import as_json
from web.algorithm_proxy import monitoring_serializers as serializers
from web.algorithm_proxy.client import algorithm_client
from web.api.schema import error_responses, uuid_in_path


class ScheduleListView(APIView):
    @extend_schema(
        operation_id="schedules_list",
        responses={200: serializers.ScheduleSerializer(many=True), **error_responses(401, 503)},
        summary="Every accuracy-monitoring schedule",
    )
    def get(self, request):
        return Response([as_json(schedule) for schedule in algorithm_client().list_schedules()])

    @extend_schema(
        request=serializers.ScheduleRequestSerializer,
        responses={201: serializers.ScheduleSerializer, **error_responses(400, 401, 503)},
        summary="Schedule a model's accuracy checks (replaces its schedule)",
        description="On each tick of the cron expression (UTC), the worker scores the model's "
        "newest results row and stores the accuracy: read it at `/api/results/{model_id}/`. "
        "`model_id` may name one of our model versions or any external model.",
    )
    def post(self, request):
        params = serializers.ScheduleRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        schedule = algorithm_client().set_schedule(
            model_id=str(params.validated_data["model_id"]),
            cron_expression=params.validated_data["cron_expression"],
        )
        return Response(as_json(schedule), status=status.HTTP_201_CREATED)


@uuid_in_path("model_id")
class ScheduleDetailView(APIView):
    @extend_schema(
        responses={200: serializers.ScheduleSerializer, **error_responses(400, 401, 404, 503)},
        summary="A model's schedule",
    )
    def get(self, request, model_id: str):
        return Response(as_json(algorithm_client().get_schedule(model_id=model_id)))

    @extend_schema(
        responses={204: None, **error_responses(400, 401, 404, 503)},
        summary="Stop a model's accuracy checks",
    )
    def delete(self, request, model_id: str):
        algorithm_client().delete_schedule(model_id=model_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResultCreateView(APIView):
    @extend_schema(
        request=serializers.ResultRequestSerializer,
        responses={201: serializers.ResultSerializer, **error_responses(400, 401, 413, 503)},
        summary="Store a model's true and predicted labels",
    )
    def post(self, request):
        params = serializers.ResultRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        result = algorithm_client().create_result(
            model_id=str(params.validated_data["model_id"]),
            y_true=params.validated_data["y_true"],
            y_pred=params.validated_data["y_pred"],
        )
        return Response(as_json(result), status=status.HTTP_201_CREATED)


@uuid_in_path("model_id")
class AccuracyView(APIView):
    @extend_schema(
        responses={200: serializers.AccuracySerializer, **error_responses(400, 401, 404, 503)},
        summary="The accuracy last computed for a model",
        description="404 until the model's schedule has ticked at least once.",
    )
    def get(self, request, model_id: str):
        return Response(as_json(algorithm_client().get_accuracy(model_id=model_id)))
