from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.limits import MAX_LOG_LINES
from web.accounts.scopes import Scope
from web.api.exceptions import PayloadTooLarge, error_body
from web.api.log_tail import SERVICES, log_tail
from web.api.readiness import readiness
from web.api.schema import error_responses

_CHECK = serializers.ChoiceField(choices=["ok", "error"])
_ReadinessSerializer = inline_serializer(
    "Readiness",
    {
        "status": _CHECK,
        "checks": serializers.DictField(
            child=_CHECK, help_text="database, redis and algorithm: each must be ok."
        ),
        "predictions": serializers.ChoiceField(
            choices=["ok", "error"],
            help_text="Whether a model version answers predictions; not part of `status`: a "
            "fresh deployment is ready before its first model is trained.",
        ),
    },
)


class OpenProbe(APIView):
    # Open to load balancers, orchestrators and health checks, which hold no token; no
    # authentication either, so a stale token header cannot turn one into a 401; and no
    # budget: probes come from a few addresses, often.
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()


class HealthView(OpenProbe):
    @extend_schema(
        summary="Readiness: web and everything it needs answer",
        description="200 when the database, Redis and the algorithm service (settled on its "
        "active model version) all answer; 503 naming the one that does not. Whether "
        "predictions can be answered is reported apart, in `predictions`.",
        responses={
            200: OpenApiResponse(_ReadinessSerializer, description="Ready."),
            503: OpenApiResponse(_ReadinessSerializer, description="A check failed."),
        },
    )
    def get(self, request: Request) -> Response:
        checks, predicting = readiness()
        ready = all(checks.values())
        return Response(
            {
                "status": "ok" if ready else "error",
                "checks": {name: "ok" if ok else "error" for name, ok in checks.items()},
                "predictions": "ok" if predicting else "error",
            },
            status=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


class LivenessView(OpenProbe):
    @extend_schema(
        summary="Liveness: the web process answers",
        description="Checks nothing else, so an outage of the database or the algorithm "
        "service never restarts web; /api/health/ is readiness.",
        responses={200: inline_serializer("Liveness", {"status": serializers.ChoiceField(["ok"])})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class LogQuerySerializer(serializers.Serializer):
    lines = serializers.IntegerField(
        required=False, default=20, min_value=1, max_value=MAX_LOG_LINES
    )
    service = serializers.ChoiceField(
        choices=SERVICES, required=False, help_text="Only this service's lines."
    )


_LogRecordsSerializer = inline_serializer(
    "LogRecord",
    many=True,
    fields={
        "time": serializers.CharField(help_text="UTC, ISO 8601."),
        "level": serializers.CharField(),
        "service": serializers.CharField(),
        "id": serializers.CharField(help_text="Request or job id; '-' outside of one."),
        "logger": serializers.CharField(),
        "message": serializers.CharField(help_text="Line breaks are escaped as \\n."),
        "line": serializers.CharField(help_text="The line as written."),
    },
)


class LogView(APIView):
    # Log lines name hosts, users' texts in error messages and the services' internals.
    required_scope = Scope.ADMIN

    @extend_schema(
        summary="The newest log lines of every service",
        parameters=[LogQuerySerializer],
        responses={200: _LogRecordsSerializer, **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        query = LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            log_tail(
                lines=query.validated_data["lines"], service=query.validated_data.get("service")
            )
        )


# Django's error views, for whatever fails outside a DRF view, in the API's shape.


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        too_large = PayloadTooLarge()
        return JsonResponse(error_body(str(too_large.detail)), status=too_large.status_code)
    return JsonResponse(error_body("Bad request."), status=status.HTTP_400_BAD_REQUEST)


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(
        error_body("You do not have permission to perform this action."),
        status=status.HTTP_403_FORBIDDEN,
    )


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(error_body("Not found."), status=status.HTTP_404_NOT_FOUND)


def server_error_body(request_id: str | None) -> dict:
    # Django has already logged the traceback under this request id; the client learns
    # nothing internal, only the id to quote.
    return error_body(
        "Internal server error. It has been logged; please try again later.",
        {"request_id": request_id} if request_id else None,
    )


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        server_error_body(getattr(request, "request_id", None)),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
