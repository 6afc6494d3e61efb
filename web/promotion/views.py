"""The evaluation set, the promotion policy, challengers on demand and the decisions: read to
see, admin to change; answered by the algorithm service's PromotionService."""

from collections.abc import Sequence
from typing import Any, ClassVar

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from algorithm.v1 import promotion_pb2, promotion_pb2_grpc
from common.proto_json import as_json
from web.accounts.scopes import Scope
from web.algorithm_proxy.client import service_call
from web.algorithm_proxy.serializers import JobSerializer, ModelPageParamsSerializer
from web.algorithm_proxy.views import service_page
from web.api.schema import error_responses, uuid_in_path
from web.promotion import serializers

# Reading shows what decides which version answers; changing it is an admin's.
_ADMIN_CHANGES: dict[str, Scope] = {
    "POST": Scope.ADMIN,
    "PUT": Scope.ADMIN,
    "DELETE": Scope.ADMIN,
}


def _promotion(method: str, request: Any) -> Any:
    return service_call(promotion_pb2_grpc.PromotionServiceStub, method, request)


class EvaluationSetView(APIView):
    required_scope: ClassVar = _ADMIN_CHANGES

    @extend_schema(
        responses={
            200: serializers.EvaluationSetSerializer,
            **error_responses(401, 404, 503),
        },
        summary="The current evaluation set",
        description="The frozen rows every version is measured on and training leaves out; "
        "404 without one.",
    )
    def get(self, request):
        reply = _promotion("GetEvaluationSet", promotion_pb2.GetEvaluationSetRequest())
        return Response(as_json(reply.evaluation_set))

    @extend_schema(
        request=serializers.EvaluationSetRequestSerializer,
        responses={
            201: serializers.EvaluationSetSerializer,
            **error_responses(400, 401, 409, 503),
        },
        summary="Make a new evaluation set (replaces the current one)",
        description="A `fraction` of the data table (stratified by label unless told not), "
        "or the rows of `data_ids`. The set it replaces is retired: its rows return to "
        "training, and the versions measured on it keep naming it.",
    )
    def post(self, request):
        params = serializers.EvaluationSetRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        valid = params.validated_data
        reply = _promotion(
            "CreateEvaluationSet",
            promotion_pb2.CreateEvaluationSetRequest(
                method=valid["method"],
                fraction=valid.get("fraction", 0.0),
                stratified=valid["stratified"],
                seed=valid["seed"],
                new_rows_share=valid["new_rows_share"],
                data_ids=valid["data_ids"],
            ),
        )
        return Response(as_json(reply.evaluation_set), status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={204: None, **error_responses(401, 404, 503)},
        summary="Retire the evaluation set",
        description="Training reads every row again. Challengers cannot be judged until a new "
        "set is made.",
    )
    def delete(self, request):
        _promotion("DeleteEvaluationSet", promotion_pb2.DeleteEvaluationSetRequest())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PolicyView(APIView):
    required_scope: ClassVar = _ADMIN_CHANGES

    @extend_schema(
        responses={200: serializers.PolicyRecordSerializer, **error_responses(401, 404, 503)},
        summary="The promotion policy",
    )
    def get(self, request):
        reply = _promotion("GetPolicy", promotion_pb2.GetPolicyRequest())
        return Response(as_json(reply.policy))

    @extend_schema(
        request=serializers.PolicySerializer,
        responses={
            200: serializers.PolicyRecordSerializer,
            **error_responses(400, 401, 409, 503),
        },
        summary="Set the promotion policy (replaces it)",
        description="When a challenger is trained (`trigger`: every N new data rows, a cron "
        "expression, or neither: only on demand), with what (`algorithm`, `parameters`), and "
        "the rule that promotes it: its `metric` on the evaluation set beats the champion's "
        "by `min_improvement`, and no label's recall drops by more than `max_recall_drop`; "
        "with `min_shadow_agreement`, it is then the shadow, and promoted only once it gave "
        "the champion's label on that share of `min_shadow_predictions` or more of the "
        "champion's predictions. Needs a current evaluation set (409 without one).",
    )
    def put(self, request):
        params = serializers.PolicySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        policy = promotion_pb2.PromotionPolicy()
        valid = params.validated_data
        trigger = {key: value for key, value in valid["trigger"].items() if value is not None}
        policy.trigger.CopyFrom(promotion_pb2.PromotionTrigger(**trigger))
        policy.algorithm, policy.metric = valid["algorithm"], valid["metric"]
        policy.parameters.update(valid["parameters"])
        policy.min_improvement = valid["min_improvement"]
        policy.max_recall_drop = valid["max_recall_drop"]
        for name in ("min_shadow_agreement", "min_shadow_predictions"):
            if valid.get(name) is not None:
                setattr(policy, name, valid[name])
        reply = _promotion("SetPolicy", promotion_pb2.SetPolicyRequest(policy=policy))
        return Response(as_json(reply.policy))

    @extend_schema(
        responses={204: None, **error_responses(401, 404, 503)},
        summary="Delete the promotion policy",
        description="Its triggers stop; challengers may still be trained with "
        '`POST /api/train/` and `"promotion": true`, under the default rule.',
    )
    def delete(self, request):
        _promotion("DeletePolicy", promotion_pb2.DeletePolicyRequest())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChallengerView(APIView):
    required_scope: ClassVar = _ADMIN_CHANGES

    @extend_schema(
        request=serializers.ChallengerRequestSerializer,
        responses={202: JobSerializer, **error_responses(400, 401, 409, 503)},
        summary="Train a challenger now, under the promotion policy",
        description="With the policy's algorithm and parameters. Its version is published "
        "but not activated, then promoted or kept by the policy's rule: the decision is at "
        "`/api/promotion/decisions/`. 409 without a policy or an evaluation set, or while "
        "another challenger is in flight.",
    )
    def post(self, request):
        params = serializers.ChallengerRequestSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        request_id = str(params.validated_data["request_id"] or "")
        reply = _promotion(
            "TrainChallenger", promotion_pb2.TrainChallengerRequest(request_id=request_id)
        )
        location = reverse("job-detail", kwargs={"job_id": reply.job.job_id})
        return Response(
            as_json(reply.job), status=status.HTTP_202_ACCEPTED, headers={"Location": location}
        )


class DecisionListView(APIView):
    @extend_schema(
        operation_id="promotion_decisions_list",
        parameters=[ModelPageParamsSerializer],
        responses={
            200: serializers.DecisionPageSerializer,
            **error_responses(400, 401, 404, 503),
        },
        summary="Promotion decisions and canary rollbacks, newest first",
    )
    def get(self, request):
        def fetch(size: int, token: str) -> tuple[Sequence[Any], int, str]:
            listing = promotion_pb2.ListDecisionsRequest(page_size=size, page_token=token)
            reply = _promotion("ListDecisions", listing)
            return reply.decisions, reply.total_size, reply.next_page_token

        return service_page(request, fetch)


@uuid_in_path("decision_id")
class DecisionDetailView(APIView):
    @extend_schema(
        responses={200: serializers.DecisionSerializer, **error_responses(400, 401, 404, 503)},
        summary="A promotion decision, with its rule and evidence",
    )
    def get(self, request, decision_id: str):
        reply = _promotion("GetDecision", promotion_pb2.GetDecisionRequest(decision_id=decision_id))
        return Response(as_json(reply.decision))
