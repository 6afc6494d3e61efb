"""Training, jobs and predictions: validated here, answered by the algorithm service."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from web.api.schema import error_responses
from web.classifier import serializers
from web.classifier.client import get_client


class TrainView(APIView):
    @extend_schema(
        request=serializers.TrainRequestSerializer,
        responses={202: serializers.JobSerializer, **error_responses(400, 401, 503)},
        summary="Start training on the current data",
        description="Queues a training job and returns it at once; follow it at "
        "`/api/jobs/{job_id}/`. Every field is optional. A repeated `request_id` "
        "returns the job it started the first time instead of a new one.",
    )
    def post(self, request):
        params = serializers.TrainRequestSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        request_id = params.validated_data["request_id"]
        job = get_client().train(
            algorithm=params.validated_data["algorithm"],
            parameters=params.validated_data["parameters"],
            request_id=str(request_id) if request_id else "",
        )
        location = reverse("job-detail", kwargs={"job_id": job["job_id"]})
        return Response(job, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class JobDetailView(APIView):
    @extend_schema(
        responses={200: serializers.JobSerializer, **error_responses(400, 401, 404, 503)},
        summary="A job's state, progress and outcome",
    )
    def get(self, request, job_id: str):
        return Response(get_client().get_job(job_id=job_id))


class PredictView(APIView):
    @extend_schema(
        request=serializers.PredictRequestSerializer,
        responses={
            200: serializers.PredictionSerializer,
            **error_responses(400, 401, 404, 409, 413, 503),
        },
        summary="Classify one text, or a list of texts",
        description='`{"text": "..."}` answers one prediction; `{"texts": [...]}` answers a '
        "list of predictions in the same order. `model_id` picks a version; by default the "
        "active one answers. The label is always the one with the highest score.",
    )
    def post(self, request):
        params = serializers.PredictRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        model_id = str(params.validated_data["model_id"] or "")
        client = get_client()
        if "text" in params.validated_data:
            return Response(client.predict(text=params.validated_data["text"], model_id=model_id))
        batch = client.predict_batch(texts=params.validated_data["texts"], model_id=model_id)
        return Response(
            [{**prediction, "model_id": batch["model_id"]} for prediction in batch["predictions"]]
        )


class AlgorithmListView(APIView):
    @extend_schema(
        responses={200: serializers.AlgorithmSerializer(many=True), **error_responses(401, 503)},
        summary="The algorithms training accepts, with their parameters",
    )
    def get(self, request):
        return Response(get_client().list_algorithms())
