"""The Open Inference Protocol's REST form (KServe V2), public under /v2/ as standard clients
expect it: web checks the token (the predict scope), the budget and the size, reads the
protocol's JSON (inference_rest.py) and asks the algorithm service over the protocol's gRPC
form. Liveness and readiness stay open."""

import io
from typing import ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.proto_json import as_json
from web.accounts.scopes import Scope
from web.algorithm_proxy.client import algorithm_client
from web.algorithm_proxy.inference_rest import infer_answer, infer_request
from web.api.middleware import request_id_of
from web.api.parsers import JSONParser
from web.api.schema import error_responses
from web.api.views import OpenProbe

_JSON = OpenApiResponse(OpenApiTypes.OBJECT, description="As the protocol defines it.")
_PROBE = OpenApiResponse(OpenApiTypes.OBJECT, description="200: true; 400: false.")


def _probe(true: bool, **body: object) -> Response:
    # The protocol's probes answer false with a 4xx.
    return Response(body, status=status.HTTP_200_OK if true else status.HTTP_400_BAD_REQUEST)


class ProbeView(OpenProbe):
    """Server liveness or readiness (`probe`, set by the route), or a model's readiness."""

    probe: ClassVar[str] = "model"

    @extend_schema(
        responses={200: _PROBE, 400: _PROBE, **error_responses(404, 409, 503)},
        summary="Inference protocol probe",
    )
    def get(self, request: Request, name: str = "", version: str = "") -> Response:
        client = algorithm_client()
        if self.probe == "live":
            live = client.server_live()
            return _probe(live, live=live)
        if self.probe == "ready":
            ready = client.server_ready()
            return _probe(ready, ready=ready)
        ready = client.model_ready(name=name, version=version)
        return _probe(ready, name=name, ready=ready)


class MetadataView(APIView):
    required_scope: ClassVar = Scope.PREDICT

    @extend_schema(
        responses={200: _JSON, **error_responses(401, 404, 409, 503)},
        summary="Inference protocol: server or model metadata",
    )
    def get(self, request: Request, name: str = "", version: str = "") -> Response:
        client = algorithm_client()
        if not name:
            return Response(as_json(client.server_metadata()))
        return Response(as_json(client.model_metadata(name=name, version=version)))


class InferView(APIView):
    required_scope: ClassVar = Scope.PREDICT

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: _JSON, **error_responses(400, 401, 404, 409, 413, 503)},
        summary="Inference protocol: classify the texts of the input `text`",
        description="Input `text` (BYTES, shape [N]) and optionally `reference` (BYTES, [N]: "
        "each text's key of your own); outputs `label` (BYTES, [N]) and `probabilities` (FP32, "
        "[N, C], columns in the order of the answer's parameter `labels`). The label is always "
        "the one with the highest probability. The answer's parameter `prediction_ids` holds "
        "the predictions' ids, comma-separated in the order of the texts.",
    )
    def post(self, request: Request, name: str, version: str = "") -> Response:
        # Whatever the media type, as the protocol's clients send it; held to web's body
        # limit and JSON depth bound like every other body.
        body = JSONParser().parse(io.BytesIO(request.body))
        call = infer_request(name=name, version=version, body=body)
        # Who asked, for the prediction log, as REST predictions pass it; whatever the body
        # said under these names is replaced.
        call.parameters["caller"].string_param = request.auth.caller
        call.parameters["request_id"].string_param = request_id_of(request)
        return Response(infer_answer(algorithm_client().model_infer(call)))
