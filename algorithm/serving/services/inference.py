"""The Open Inference Protocol (KServe V2) over the prediction service.

One model, named INFERENCE_MODEL_NAME, whose versions are the model store's versions: no
version means the active one, a version is a model id. It takes one input, `text` (BYTES,
shape [N]), and optionally a second, `reference` (BYTES, [N]: each text's reference for the
prediction log, empty for none), and answers `label` (BYTES, [N]) and `probabilities` (FP32,
[N, C]), whose columns follow the class order that every answer states in its parameter
`labels` (a JSON array); its parameter `prediction_ids` holds the predictions' ids,
comma-separated in the order of the texts. Texts are scored by prediction.predict_batch, as
PredictBatch scores them, so the label is always the arg-max of the probabilities.

The functions take and return plain values; the gRPC servicer converts at the edge.
"""

import json
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import numpy as np

from algorithm import settings
from algorithm.domain import ml
from algorithm.domain.errors import InvalidArgument, NotFound
from algorithm.domain.store import LoadedModel, parse_model_id
from algorithm.serving.model_repository import model_repository
from algorithm.serving.services import prediction
from common import limits
from common import settings as common_settings
from common.inference_json import BYTES_LENGTH, bytes_elements

SERVER_NAME = "textclf"
PLATFORM = "scikit-learn"
INPUT = "text"
REFERENCE = "reference"
# Request parameters naming who asked, for the prediction log (web passes its caller's).
CALLER = "caller"
REQUEST_ID = "request_id"
LABEL = "label"
PROBABILITIES = "probabilities"
OUTPUTS = (LABEL, PROBABILITIES)


class TensorMetadata(TypedDict):
    name: str
    datatype: str
    shape: list[int]


class InputTensor(TensorMetadata):
    """A request's input: its elements as "data" (str or UTF-8 bytes), or as "raw" (the
    protocol's raw BYTES encoding, from gRPC's raw_input_contents)."""

    data: list[str | bytes]
    raw: NotRequired[bytes | None]


class OutputTensor(TensorMetadata):
    """An answer's output, its elements flattened row-major."""

    data: list[str | float]


class ServerMetadata(TypedDict):
    name: str
    version: str
    extensions: list[str]


class ModelMetadata(TypedDict):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class InferResult(TypedDict):
    model_name: str
    model_version: str
    id: str
    parameters: dict[str, str]
    outputs: list[OutputTensor]


def server_live() -> bool:
    """Live while the process answers at all."""
    return True


def server_ready() -> bool:
    """As gRPC health's overall service: settled on the active version (loaded or refused),
    so a replica still loading takes no traffic; whether a version answers is ModelReady."""
    return model_repository.ready()


def model_ready(*, name: str, version: str = "") -> bool:
    """The default version is ready while a version is loaded and answering; a named one
    while it is loaded (KServe's meaning). Never loads one: the call is open to any caller,
    who could otherwise make the server load and check every version there is."""
    _check_name(name)
    if not version:
        return model_repository.predicting()
    try:
        return model_repository.holds(parse_model_id(version))
    except InvalidArgument:
        raise _unknown_version(name, version) from None


def server_metadata() -> ServerMetadata:
    return {"name": SERVER_NAME, "version": common_settings.VERSION, "extensions": []}


def model_metadata(*, name: str, version: str = "") -> ModelMetadata:
    """The version that would answer (the active one unless named) and its tensors; the
    protocol's metadata has no place for the class names, which every answer states."""
    model = _model(name, version)
    classes = ml.class_labels(model.classifier)
    return {
        "name": settings.INFERENCE_MODEL_NAME,
        "versions": [model.model_id],
        "platform": PLATFORM,
        "inputs": [{"name": INPUT, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": LABEL, "datatype": "BYTES", "shape": [-1]},
            {"name": PROBABILITIES, "datatype": "FP32", "shape": [-1, len(classes)]},
        ],
    }


def model_infer(
    *,
    model_name: str,
    model_version: str = "",
    inputs: list[InputTensor],
    outputs: list[str] | None = None,
    request_id: str = "",
    origin: Mapping[str, str] | None = None,
) -> InferResult:
    """Classify the texts of the input `text`.

    Each input is {"name", "datatype", "shape"} with its elements either as "data" (a list
    of str or UTF-8 bytes) or as "raw" (the protocol's raw BYTES encoding). outputs names
    the outputs wanted, all of them when empty. The answer's outputs are {"name",
    "datatype", "shape", "data"}, data flattened row-major. origin holds the request
    parameters `caller` and `request_id` the prediction log records (web sets both for its
    callers); the log's request id is otherwise the request's own id.
    """
    model_id = _version(model_name, model_version)
    wanted = _wanted_outputs(outputs)
    texts, references = _texts(inputs)
    origin = origin or {}
    caller = origin.get(CALLER, "")
    logged_request_id = origin.get(REQUEST_ID) or request_id
    result = prediction.predict_batch(
        texts=texts,
        model_id=model_id,
        field=INPUT,
        references=references,
        reference_field=REFERENCE,
        callers=[caller] * len(texts) if caller else (),
        request_ids=[logged_request_id] * len(texts) if logged_request_id else (),
        # One answer, one model_version and one class order.
        one_version=True,
    )
    # The scores' order is the class order of the version that answered.
    classes = list(result["predictions"][0]["scores"])
    tensors: dict[str, OutputTensor] = {
        LABEL: {
            "name": LABEL,
            "datatype": "BYTES",
            "shape": [len(texts)],
            "data": [p["label"] for p in result["predictions"]],
        },
        PROBABILITIES: {
            "name": PROBABILITIES,
            "datatype": "FP32",
            "shape": [len(texts), len(classes)],
            "data": [p["scores"][label] for p in result["predictions"] for label in classes],
        },
    }
    return {
        "model_name": settings.INFERENCE_MODEL_NAME,
        "model_version": result["model_id"],
        "id": request_id,
        "parameters": {
            "labels": json.dumps(classes),
            "prediction_ids": ",".join(p["prediction_id"] for p in result["predictions"]),
        },
        "outputs": [tensors[name] for name in wanted],
    }


def raw_contents(tensor: OutputTensor) -> bytes:
    """An output's elements in the protocol's raw encoding, which standard clients read."""
    if tensor["datatype"] == "BYTES":
        return b"".join(
            BYTES_LENGTH.pack(len(encoded)) + encoded
            # BYTES elements are the labels, strings: str() leaves them as they are.
            for encoded in (str(element).encode() for element in tensor["data"])
        )
    return np.asarray(tensor["data"], dtype="<f4").tobytes()


def _check_name(name: str) -> None:
    if name != settings.INFERENCE_MODEL_NAME:
        raise NotFound(
            f"Model '{name}' is not served here; the one model is "
            f"'{settings.INFERENCE_MODEL_NAME}'."
        )


def _model(name: str, version: str) -> LoadedModel:
    _check_name(name)
    try:
        return model_repository.get(version)
    except (InvalidArgument, NotFound):
        # Only a version can be unknown here: no version means the active one.
        raise _unknown_version(name, version) from None


def _unknown_version(name: str, version: str) -> NotFound:
    return NotFound(
        f"Model '{name}' has no version '{version}'; its versions are model ids "
        "(ListModels, GET /api/models/)."
    )


def _version(name: str, version: str) -> str:
    """The model id to predict with: a named version's, once it is known to exist, or "" for
    the active version (which the model repository holds, whatever versions were named since)."""
    if version:
        return _model(name, version).model_id
    _check_name(name)
    return ""


def _wanted_outputs(outputs: list[str] | None) -> list[str]:
    for name in outputs or ():
        if name not in OUTPUTS:
            raise InvalidArgument(
                f"Output '{name}' does not exist; the outputs are {', '.join(OUTPUTS)}."
            )
    return list(dict.fromkeys(outputs)) if outputs else list(OUTPUTS)


def _texts(inputs: list[InputTensor]) -> tuple[list[str], list[str]]:
    """The texts of the input `text`, and the references of the input `reference` (none if
    it is not sent), once their names, types, shapes and elements check out."""
    by_name = {tensor["name"]: tensor for tensor in inputs}
    if INPUT not in by_name or len(by_name) != len(inputs) or set(by_name) - {INPUT, REFERENCE}:
        names = ", ".join(repr(tensor["name"]) for tensor in inputs) or "none"
        raise InvalidArgument(
            f"The model takes the input '{INPUT}' (BYTES, shape [N]) and, optionally, "
            f"'{REFERENCE}' (BYTES, shape [N], each text's reference); got {names}."
        )
    texts = _strings(by_name[INPUT])
    if REFERENCE not in by_name:
        return texts, []
    references = by_name[REFERENCE]
    if list(references["shape"]) != [len(texts)]:
        raise InvalidArgument(
            f"Input '{REFERENCE}' must have the shape of '{INPUT}', [{len(texts)}]: one "
            f"reference per text; got {list(references['shape'])}."
        )
    return texts, _strings(references)


def _strings(tensor: InputTensor) -> list[str]:
    """A BYTES input's elements as strings, once its type, shape and element count check out."""
    name = tensor["name"]
    if tensor["datatype"] != "BYTES":
        raise InvalidArgument(
            f"Input '{name}' must have datatype BYTES (UTF-8 texts), not {tensor['datatype']!r}."
        )
    shape = list(tensor["shape"])
    if len(shape) != 1 or not 1 <= shape[0] <= limits.MAX_BATCH_TEXTS:
        raise InvalidArgument(
            f"Input '{name}' must have shape [N], N texts from 1 to {limits.MAX_BATCH_TEXTS} "
            f"per call; got {shape}."
        )
    raw = tensor.get("raw")
    elements: list[str | bytes] = [*_raw_elements(raw, name)] if raw is not None else tensor["data"]
    if len(elements) != shape[0]:
        raise InvalidArgument(
            f"Input '{name}' has shape {shape} but {len(elements)} elements; send one per text."
        )
    return [_text(element, f"{name}[{index}]") for index, element in enumerate(elements)]


def _text(element: str | bytes, where: str) -> str:
    if isinstance(element, str):
        return element
    try:
        return element.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{where} is not UTF-8 text.") from None


def _raw_elements(raw: bytes, name: str) -> list[bytes]:
    try:
        return bytes_elements(raw)
    except ValueError:
        raise InvalidArgument(
            f"raw_input_contents for '{name}' is not in the BYTES encoding: each text's "
            "length as 4 bytes, little-endian, then its UTF-8 bytes."
        ) from None
