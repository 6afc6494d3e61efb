"""The Open Inference Protocol's REST infer request (KServe V2 JSON), checked and flattened.

Both readers of the protocol's REST form take bodies through here: the algorithm service's
Flask shim and web's public /v2, which passes them on over gRPC. Each refusal names the
member at fault; the protocol's meaning of the tensors (which inputs, types and shapes the
model takes) is the service's to check.
"""

import struct
from dataclasses import dataclass

# A BYTES element in the protocol's raw encoding: its length as 4 bytes, little-endian,
# then the bytes.
BYTES_LENGTH = struct.Struct("<I")


class BadInferBody(ValueError):
    """A body that is not an infer request; its message says what is wrong."""


@dataclass(frozen=True)
class InputTensor:
    name: str
    datatype: str
    shape: list[int]
    # The elements, flattened (the protocol allows them nested by the shape).
    data: list[str]


@dataclass(frozen=True)
class InferBody:
    id: str
    inputs: list[InputTensor]
    # The names of the outputs asked for; all of them when empty.
    outputs: list[str]


def infer_body(body: object) -> InferBody:
    """The request a parsed JSON body makes, or BadInferBody."""
    if not isinstance(body, dict):
        raise BadInferBody("The body must be a JSON object with 'inputs'.")
    return InferBody(
        id=_string(body.get("id", ""), "id"),
        inputs=[_input(tensor, index) for index, tensor in enumerate(_list(body, "inputs"))],
        outputs=[_output(tensor, index) for index, tensor in enumerate(_list(body, "outputs"))],
    )


def bytes_elements(raw: bytes) -> list[bytes]:
    """The elements of a BYTES tensor in the raw encoding; ValueError if it is not one."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + BYTES_LENGTH.size > len(raw):
            raise ValueError("a length cut short")
        (length,) = BYTES_LENGTH.unpack_from(raw, offset)
        offset += BYTES_LENGTH.size
        if offset + length > len(raw):
            raise ValueError("an element shorter than its length")
        elements.append(raw[offset : offset + length])
        offset += length
    return elements


def _list(body: dict[object, object], key: str) -> list[object]:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise BadInferBody(f"'{key}' must be a list of tensors.")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise BadInferBody(f"'{where}' must be a string.")
    return value


def _input(tensor: object, index: int) -> InputTensor:
    where = f"inputs[{index}]"
    if not isinstance(tensor, dict):
        raise BadInferBody(f"'{where}' must be an object with name, datatype, shape, data.")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) for size in shape
    ):
        raise BadInferBody(f"'{where}.shape' must be a list of integers.")
    return InputTensor(
        name=_string(tensor.get("name"), f"{where}.name"),
        datatype=_string(tensor.get("datatype"), f"{where}.datatype"),
        shape=shape,
        data=_flat(tensor.get("data"), f"{where}.data"),
    )


def _flat(data: object, where: str) -> list[str]:
    """The texts of nested lists, in order; without recursion, which JSON nested deeply
    would exhaust."""
    if not isinstance(data, list):
        raise BadInferBody(f"'{where}' must be a list of texts.")
    flat: list[str] = []
    stack = [iter(data)]
    while stack:
        element = next(stack[-1], _END)
        if element is _END:
            stack.pop()
        elif isinstance(element, list):
            stack.append(iter(element))
        elif isinstance(element, str):
            flat.append(element)
        else:
            raise BadInferBody(f"'{where}' must hold texts (strings), not {element!r}.")
    return flat


_END = object()


def _output(tensor: object, index: int) -> str:
    if not isinstance(tensor, dict):
        raise BadInferBody(f"'outputs[{index}]' must be an object with a name.")
    return _string(tensor.get("name"), f"outputs[{index}].name")
