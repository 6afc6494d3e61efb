"""The Open Inference Protocol's REST form (KServe V2 JSON) read and written by web, which
serves it over the protocol's gRPC form (inference.GRPCInferenceService): a body checked as
the Flask shim checks it (common/inference_json.py) becomes a ModelInferRequest, and the
service's reply, whose outputs come in the raw encoding, becomes the protocol's JSON answer.
"""

import numpy as np
from rest_framework.exceptions import ParseError

from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from common.inference_json import BadInferBody, InputTensor, bytes_elements, infer_body

_INT64 = range(-(2**63), 2**63)
Tensor = oip_pb2.ModelInferRequest.InferInputTensor


def infer_request(*, name: str, version: str, body: object) -> oip_pb2.ModelInferRequest:
    """The call a parsed JSON body makes for the model and version of its path; a 400
    (ParseError) for a body that is not an infer request."""
    try:
        parsed = infer_body(body)
    except BadInferBody as error:
        raise ParseError(str(error)) from None
    return oip_pb2.ModelInferRequest(
        model_name=name,
        model_version=version,
        id=parsed.id,
        inputs=[_tensor(tensor, index) for index, tensor in enumerate(parsed.inputs)],
        outputs=[
            oip_pb2.ModelInferRequest.InferRequestedOutputTensor(name=output)
            for output in parsed.outputs
        ],
    )


def _tensor(tensor: InputTensor, index: int) -> Tensor:
    if not all(size in _INT64 for size in tensor.shape):
        raise ParseError(f"'inputs[{index}].shape' must be a list of 64-bit integers.")
    return Tensor(
        name=tensor.name,
        datatype=tensor.datatype,
        shape=tensor.shape,
        # surrogatepass: a lone surrogate JSON allowed reaches the service, which refuses the
        # text as not UTF-8 (a 400) as it refuses any other.
        contents=oip_pb2.InferTensorContents(
            bytes_contents=[text.encode("utf-8", "surrogatepass") for text in tensor.data]
        ),
    )


def infer_answer(reply: oip_pb2.ModelInferResponse) -> dict[str, object]:
    """The protocol's JSON answer: each output's elements flattened under "data"."""
    return {
        "model_name": reply.model_name,
        "model_version": reply.model_version,
        "id": reply.id,
        "parameters": {
            key: getattr(value, value.WhichOneof("parameter_choice") or "string_param")
            for key, value in reply.parameters.items()
        },
        "outputs": [
            {
                "name": tensor.name,
                "datatype": tensor.datatype,
                "shape": list(tensor.shape),
                "data": _ELEMENTS[tensor.datatype](raw),
            }
            for tensor, raw in zip(reply.outputs, reply.raw_output_contents, strict=True)
        ],
    }


def _texts(raw: bytes) -> list[str]:
    return [element.decode() for element in bytes_elements(raw)]


def _fp32(raw: bytes) -> list[float]:
    # Each value as the shortest decimal that reads back as the same 32-bit float.
    return [float(str(value)) for value in np.frombuffer(raw, dtype="<f4")]


# What the service answers: texts (labels) and 32-bit floats (probabilities).
_ELEMENTS = {"BYTES": _texts, "FP32": _fp32}
