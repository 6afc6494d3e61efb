"""The Open Inference Protocol's REST form (KServe V2), public under /v2/ as standard clients
expect it: web checks the token (the predict scope), the budget and the size, and the Flask
shim, which speaks the protocol, answers. Liveness and readiness stay open."""

import re
from typing import ClassVar
from urllib.parse import quote

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from web.accounts.scopes import Scope
from web.algorithm_proxy.client import algorithm_client
from web.api.schema import error_responses
from web.api.views import OpenProbe

_JSON = OpenApiResponse(OpenApiTypes.OBJECT, description="As the protocol defines it.")
_PROBE = OpenApiResponse(OpenApiTypes.OBJECT, description="200: true; 400: false.")
# A parameter in a route of web/config/urls.py.
_PARAMETER = re.compile(r"<str:(\w+)>")


def _shim_path(request: Request) -> str:
    """The shim's path for the route the request matched, rebuilt from its parameters, each
    quoted whole: Django's decoded path could name another route of the shim's, or a query
    (a name ending in %3F), and be answered with web's credential."""
    match = request.resolver_match
    return "/" + _PARAMETER.sub(lambda found: _segment(match.kwargs[found[1]]), match.route)


def _segment(value: str) -> str:
    # Dots too, so "." and ".." stay names rather than steps up the path.
    return quote(value, safe="").replace(".", "%2E")


def _answer(request: Request, body: bytes | None = None) -> Response:
    status_code, answer = algorithm_client().inference(request.method, _shim_path(request), body)
    return Response(answer, status=status_code)


class ProbeView(OpenProbe):
    """Server liveness and readiness, a model's readiness."""

    @extend_schema(
        responses={200: _PROBE, 400: _PROBE, **error_responses(404, 409, 503)},
        summary="Inference protocol probe",
    )
    def get(self, request: Request, **_path: str) -> Response:
        return _answer(request)


class MetadataView(APIView):
    required_scope: ClassVar = Scope.PREDICT

    @extend_schema(
        responses={200: _JSON, **error_responses(401, 404, 409, 503)},
        summary="Inference protocol: server or model metadata",
    )
    def get(self, request: Request, **_path: str) -> Response:
        return _answer(request)


class InferView(APIView):
    required_scope: ClassVar = Scope.PREDICT

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: _JSON, **error_responses(400, 401, 404, 409, 413, 503)},
        summary="Inference protocol: classify the texts of the input `text`",
        description="Input `text` (BYTES, shape [N]); outputs `label` (BYTES, [N]) and "
        "`probabilities` (FP32, [N, C], columns in the order of the answer's parameter "
        "`labels`). The label is always the one with the highest probability.",
    )
    def post(self, request: Request, **_path: str) -> Response:
        return _answer(request, request.body)
