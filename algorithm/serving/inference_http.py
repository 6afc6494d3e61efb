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
    body = request_json()
    if not isinstance(body, dict):
        raise InvalidArgument("The body must be a JSON object with 'inputs'.")
    result = inference.model_infer(
        model_name=name,
        model_version=version,
        inputs=[_input(tensor, index) for index, tensor in enumerate(_list(body, "inputs"))],
        outputs=[_output(tensor, index) for index, tensor in enumerate(_list(body, "outputs"))],
        request_id=_string(body.get("id", ""), "id"),
    )
    return jsonify(result)


def _list(body: dict[str, Any], key: str) -> list:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise InvalidArgument(f"'{key}' must be a list of tensors.")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"'{where}' must be a string.")
    return value


def _input(tensor: object, index: int) -> inference.InputTensor:
    """A request input as algorithm.serving.services.inference takes it: name, datatype, shape and
    its elements, flattened (the protocol allows them nested by the shape)."""
    where = f"inputs[{index}]"
    if not isinstance(tensor, dict):
        raise InvalidArgument(f"'{where}' must be an object with name, datatype, shape, data.")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) for size in shape
    ):
        raise InvalidArgument(f"'{where}.shape' must be a list of integers.")
    return {
        "name": _string(tensor.get("name"), f"{where}.name"),
        "datatype": _string(tensor.get("datatype"), f"{where}.datatype"),
        "shape": shape,
        "data": [*_flat(tensor.get("data"), f"{where}.data")],
    }


def _flat(data: Any, where: str) -> list[str]:
    if not isinstance(data, list):
        raise InvalidArgument(f"'{where}' must be a list of texts.")
    flat = []
    for element in data:
        if isinstance(element, list):
            flat.extend(_flat(element, where))
        elif isinstance(element, str):
            flat.append(element)
        else:
            raise InvalidArgument(f"'{where}' must hold texts (strings), not {element!r}.")
    return flat


def _output(tensor: Any, index: int) -> str:
    if not isinstance(tensor, dict):
        raise InvalidArgument(f"'outputs[{index}]' must be an object with a name.")
    return _string(tensor.get("name"), f"outputs[{index}].name")
