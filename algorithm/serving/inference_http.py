"""The Open Inference Protocol's REST form (KServe V2) on the Flask shim: JSON at the edge,
algorithm.serving.services.inference inside, as the gRPC servicer does for the protocol's gRPC form.

Errors answer the protocol's shape, ``{"error": <message>}``; the health and readiness paths
answer 200 for true and 400 for false, as the protocol says (4xx).
"""

import re
from typing import Any

from flask import Blueprint, jsonify, request

from algorithm.domain.errors import InvalidArgument, ServiceError
from algorithm.serving.error_status import http_status
from algorithm.serving.services import inference
from common.inference_json import BadInferBody, infer_body

PREFIX = "/v2"
# The protocol's probes, open like every health check (algorithm.serving.http_shim admits them).
OPEN_PATH = re.compile(r"^/v2/health/(live|ready)$|^/v2/models/[^/]+(/versions/[^/]+)?/ready$")

blueprint = Blueprint("inference", __name__, url_prefix=PREFIX)


@blueprint.errorhandler(ServiceError)
def _error(error: ServiceError):
    return jsonify(error=error.message), http_status(error)


def _probe(true: bool, **body: Any):
    return jsonify(**body), 200 if true else 400


@blueprint.get("")
def server_metadata():
    return jsonify(inference.server_metadata())


@blueprint.get("/health/live")
def server_live():
    live = inference.server_live()
    return _probe(live, live=live)


@blueprint.get("/health/ready")
def server_ready():
    ready = inference.server_ready()
    return _probe(ready, ready=ready)


@blueprint.get("/models/<name>/ready")
@blueprint.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str = ""):
    ready = inference.model_ready(name=name, version=version)
    return _probe(ready, name=name, ready=ready)


@blueprint.get("/models/<name>")
@blueprint.get("/models/<name>/versions/<version>")
def model_metadata(name: str, version: str = ""):
    return jsonify(inference.model_metadata(name=name, version=version))


def request_json() -> Any:
    """The request's body as JSON, whatever its content type; None if it is not JSON. Both of
    the shim's APIs read bodies with it."""
    try:
        return request.get_json(force=True, silent=True)
    except RecursionError:  # nested too deeply for Python's json; silent only covers ValueError
        raise InvalidArgument("The body is JSON nested too deeply to read.") from None


@blueprint.post("/models/<name>/infer")
@blueprint.post("/models/<name>/versions/<version>/infer")
def model_infer(name: str, version: str = ""):
    try:
        body = infer_body(request_json())
    except BadInferBody as error:
        raise InvalidArgument(str(error)) from None
    result = inference.model_infer(
        model_name=name,
        model_version=version,
        inputs=[
            inference.InputTensor(
                name=tensor.name, datatype=tensor.datatype, shape=tensor.shape, data=[*tensor.data]
            )
            for tensor in body.inputs
        ],
        outputs=body.outputs,
        request_id=body.id,
    )
    return jsonify(result)
