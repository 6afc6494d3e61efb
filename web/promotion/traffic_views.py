"""Traffic between versions (algorithm.v1.TrafficService): a canary that answers a share of
the predictions, rolled back automatically when it errs or its live accuracy falls, and a
shadow that scores a share of them after the answer. Read to see, admin to change."""

from typing import ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from algorithm.v1 import traffic_pb2
from common.proto_json import as_json
from web.accounts.scopes import Scope
from web.api.schema import error_responses
from web.promotion.traffic_selectors import traffic_call, traffic_current
from web.promotion.traffic_serializers import (
    ShadowAgreementParamsSerializer,
    ShadowAgreementSerializer,
    TrafficRequestSerializer,
    TrafficSerializer,
)
from web.promotion.traffic_services import traffic_clear, traffic_set

_ADMIN = {"PUT": Scope.ADMIN, "DELETE": Scope.ADMIN}


class TrafficView(APIView):
    required_scope: ClassVar = _ADMIN

    @extend_schema(
        summary="The canary and the shadow in force",
        responses={200: TrafficSerializer, **error_responses(401, 409, 503)},
    )
    def get(self, request):
        return Response(traffic_current())

    @extend_schema(
        summary="Set the canary and the shadow (replaces both)",
        description="`canary`: a version that answers `percent` % of the predictions that "
        "name no `model_id`, the same reference (else caller) always the same version; it is "
        "rolled back automatically (a `canary_rollback` decision, GET "
        "/api/promotion/decisions/) once, on at least `min_answers` answers since it was set, "
        "errors / answers exceeds `max_error_rate`, or, on at least `min_feedback` feedback, "
        "its live accuracy falls below `min_live_accuracy`. `shadow`: a version that also "
        "scores a `share` of the active version's predictions after the answer, for "
        "GET /api/traffic/shadow/. null or left out: none. Each must exist, pass its "
        "integrity checks and not be the active version (activating a version removes it "
        "from the traffic). A part naming the version it named before keeps its `since`. "
        "Serving replicas follow within a poll (ACTIVE_MODEL_POLL_SECONDS).",
        request=TrafficRequestSerializer,
        responses={200: TrafficSerializer, **error_responses(400, 401, 403, 404, 409, 503)},
    )
    def put(self, request):
        params = TrafficRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        valid = params.validated_data
        return Response(traffic_set(canary=valid["canary"], shadow=valid["shadow"]))

    @extend_schema(
        summary="Remove the canary and the shadow",
        description="The active version answers every prediction again.",
        responses={204: None, **error_responses(401, 403, 503)},
    )
    def delete(self, request):
        traffic_clear()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShadowAgreementView(APIView):
    @extend_schema(
        summary="How often the shadow agreed with the champion",
        description="Over every text the shadow scored beside the active version: overall, "
        "per label the active version gave, and every pair of labels. `model_id` names a "
        "past shadow; without it, the current one (409 when none is set).",
        parameters=[ShadowAgreementParamsSerializer],
        responses={200: ShadowAgreementSerializer, **error_responses(400, 401, 409, 503)},
    )
    def get(self, request):
        params = ShadowAgreementParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        model_id = params.validated_data.get("model_id")
        request = traffic_pb2.GetShadowAgreementRequest(model_id=str(model_id) if model_id else "")
        reply = traffic_call("GetShadowAgreement", request)
        return Response(as_json(reply))
