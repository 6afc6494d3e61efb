"""The Open Inference Protocol on the real gRPC server, called with the project's own stubs
(tests/processes/test_inference_client.py calls it with tritonclient)."""

import json
import struct
import subprocess
import uuid

import grpc
import numpy as np
import pytest

from algorithm.inference import grpc_predict_v2_pb2 as oip
from algorithm.inference import grpc_predict_v2_pb2_grpc as oip_grpc
from algorithm.v1 import prediction_pb2
from tests import support

TEXTS = ["Congratulations, you won a free cruise, call now", "see you at dinner", "ok"]


@pytest.fixture(scope="module")
def inference_stub(grpc_channel):
    return oip_grpc.GRPCInferenceServiceStub(grpc_channel)


@pytest.fixture(scope="module")
def anonymous_inference_stub(algorithm_services):
    with grpc.insecure_channel(algorithm_services.grpc_target) as channel:
        yield oip_grpc.GRPCInferenceServiceStub(channel)


def raw_bytes(elements: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(element)) + element for element in elements)


def unraw_bytes(raw: bytes) -> list[str]:
    elements, offset = [], 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<I", raw, offset)
        elements.append(raw[offset + 4 : offset + 4 + length].decode())
        offset += 4 + length
    return elements


def infer_request(texts=TEXTS, raw=True, **fields) -> oip.ModelInferRequest:
    encoded = [text.encode() for text in texts]
    tensor = oip.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[len(texts)]
    )
    if raw:
        return oip.ModelInferRequest(
            model_name="textclf", inputs=[tensor], raw_input_contents=[raw_bytes(encoded)], **fields
        )
    tensor.contents.bytes_contents.extend(encoded)
    return oip.ModelInferRequest(model_name="textclf", inputs=[tensor], **fields)


def with_references(request: oip.ModelInferRequest, references: list[str]):
    """The request with the input `reference`, in the encoding its `text` has."""
    tensor = request.inputs.add(name="reference", datatype="BYTES", shape=[len(references)])
    encoded = [reference.encode() for reference in references]
    if request.raw_input_contents:
        request.raw_input_contents.append(raw_bytes(encoded))
    else:
        tensor.contents.bytes_contents.extend(encoded)
    return request


def outputs(reply: oip.ModelInferResponse) -> dict:
    decoded = {}
    for tensor, raw in zip(reply.outputs, reply.raw_output_contents, strict=True):
        if tensor.datatype == "BYTES":
            decoded[tensor.name] = (list(tensor.shape), unraw_bytes(raw))
        else:
            values = np.frombuffer(raw, dtype="<f4").reshape(list(tensor.shape))
            decoded[tensor.name] = (list(tensor.shape), values.tolist())
    return decoded


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=5)
    return raised.value


@pytest.mark.parametrize("raw", [True, False], ids=["raw_input_contents", "bytes_contents"])
def test_model_infer_agrees_with_predict_batch(
    inference_stub, prediction_stub, active_model_id, raw
):
    batch = prediction_stub.PredictBatch(
        prediction_pb2.PredictBatchRequest(texts=TEXTS, model_id=active_model_id), timeout=5
    )
    reply = inference_stub.ModelInfer(infer_request(raw=raw, id="call-7"), timeout=5)
    assert (reply.model_name, reply.model_version, reply.id) == (
        "textclf",
        active_model_id,
        "call-7",
    )
    labels = json.loads(reply.parameters["labels"].string_param)
    assert labels == ["ham", "spam"]
    assert [(t.name, t.datatype) for t in reply.outputs] == [
        ("label", "BYTES"),
        ("probabilities", "FP32"),
    ]
    got = outputs(reply)
    assert got["label"] == ([3], [p.label for p in batch.predictions])
    shape, probabilities = got["probabilities"]
    assert shape == [3, 2]
    for row, prediction in zip(probabilities, batch.predictions, strict=True):
        assert row == pytest.approx([prediction.scores[label] for label in labels], abs=1e-6)
        assert labels[int(np.argmax(row))] == prediction.label


def test_model_version_pins_a_version_by_model_id(
    inference_stub, algorithm_services, active_model_id
):
    other = algorithm_services.publish_model(
        [("red apple", "fruit"), ("green pear", "fruit"), ("fast car", "vehicle")] * 4,
        activate=False,
    )
    reply = inference_stub.ModelInfer(infer_request(["a fast car"], model_version=other), timeout=5)
    assert reply.model_version == other
    assert json.loads(reply.parameters["labels"].string_param) == ["fruit", "vehicle"]
    assert outputs(reply)["label"] == ([1], ["vehicle"])
    ready = inference_stub.ModelReady(oip.ModelReadyRequest(name="textclf", version=other))
    assert ready.ready is True


def test_model_infer_answers_only_the_outputs_asked_for(inference_stub, active_model_id):
    wanted = [oip.ModelInferRequest.InferRequestedOutputTensor(name="probabilities")]
    reply = inference_stub.ModelInfer(infer_request(outputs=wanted), timeout=5)
    assert [t.name for t in reply.outputs] == ["probabilities"]
    assert len(reply.raw_output_contents) == 1
    assert outputs(reply)["probabilities"][0] == [3, 2]


def test_metadata_describes_the_server_and_the_active_version(inference_stub, active_model_id):
    server = inference_stub.ServerMetadata(oip.ServerMetadataRequest(), timeout=5)
    assert (server.name, list(server.extensions)) == ("textclf", [])
    assert server.version
    model = inference_stub.ModelMetadata(oip.ModelMetadataRequest(name="textclf"), timeout=5)
    tensor = oip.ModelMetadataResponse.TensorMetadata
    assert model == oip.ModelMetadataResponse(
        name="textclf",
        versions=[active_model_id],
        platform="scikit-learn",
        inputs=[tensor(name="text", datatype="BYTES", shape=[-1])],
        outputs=[
            tensor(name="label", datatype="BYTES", shape=[-1]),
            tensor(name="probabilities", datatype="FP32", shape=[-1, 2]),
        ],
    )


def test_unknown_model_or_version_is_not_found(inference_stub, active_model_id):
    missing = str(uuid.uuid4())
    version_message = (
        "Model 'textclf' has no version '{}'; its versions are model ids "
        "(ListModels, GET /api/models/)."
    )
    cases = [
        (
            inference_stub.ModelInfer,
            oip.ModelInferRequest(model_name="resnet"),
            "Model 'resnet' is not served here; the one model is 'textclf'.",
        ),
        (inference_stub.ModelInfer, infer_request(model_version=missing), None),
        (inference_stub.ModelInfer, infer_request(model_version="7"), None),
        (
            inference_stub.ModelMetadata,
            oip.ModelMetadataRequest(name="textclf", version=missing),
            None,
        ),
        (
            inference_stub.ModelReady,
            oip.ModelReadyRequest(name="resnet"),
            "Model 'resnet' is not served here; the one model is 'textclf'.",
        ),
    ]
    for call, request, message in cases:
        error = rpc_error(call, request)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        version = getattr(request, "model_version", None) or getattr(request, "version", "")
        assert error.details() == (message or version_message.format(version))


def _tensor(**fields):
    return oip.ModelInferRequest.InferInputTensor(**fields)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            oip.ModelInferRequest(
                model_name="textclf",
                inputs=[_tensor(name="input", datatype="BYTES", shape=[1])],
                raw_input_contents=[raw_bytes([b"hi"])],
            ),
            "The model takes the input 'text' (BYTES, shape [N]) and, optionally, 'reference' "
            "(BYTES, shape [N], each text's reference); got 'input'.",
        ),
        (
            oip.ModelInferRequest(model_name="textclf"),
            "The model takes the input 'text' (BYTES, shape [N]) and, optionally, 'reference' "
            "(BYTES, shape [N], each text's reference); got none.",
        ),
        (
            oip.ModelInferRequest(
                model_name="textclf", inputs=[_tensor(name="text", datatype="FP32", shape=[1])]
            ),
            "Input 'text' must have datatype BYTES (UTF-8 texts), not 'FP32'.",
        ),
        (
            oip.ModelInferRequest(
                model_name="textclf",
                inputs=[_tensor(name="text", datatype="BYTES", shape=[1, 1])],
                raw_input_contents=[raw_bytes([b"hi"])],
            ),
            "Input 'text' must have shape [N], N texts from 1 to 1000 per call; got [1, 1].",
        ),
        (
            infer_request(["ok"] * 1001),
            "Input 'text' must have shape [N], N texts from 1 to 1000 per call; got [1001].",
        ),
        (
            oip.ModelInferRequest(
                model_name="textclf",
                inputs=[_tensor(name="text", datatype="BYTES", shape=[2])],
                raw_input_contents=[raw_bytes([b"hi"])],
            ),
            "Input 'text' has shape [2] but 1 elements; send one per text.",
        ),
        (
            oip.ModelInferRequest(
                model_name="textclf",
                inputs=[_tensor(name="text", datatype="BYTES", shape=[1])],
                raw_input_contents=[b"\x09\x00\x00\x00hi"],
            ),
            "raw_input_contents for 'text' is not in the BYTES encoding: each text's length "
            "as 4 bytes, little-endian, then its UTF-8 bytes.",
        ),
        (infer_request(["ok", " "]), "text[1] must not be empty."),
        (
            with_references(infer_request(["ok", "fine"]), ["a"]),
            "Input 'reference' must have the shape of 'text', [2]: one reference per text; "
            "got [1].",
        ),
        (
            with_references(infer_request(["ok"]), ["r" * 201]),
            "reference[0] has 201 characters; the limit is 200.",
        ),
        (infer_request(["x" * 20_001]), "text[0] has 20001 characters; the limit is 20000."),
        (
            infer_request(
                outputs=[oip.ModelInferRequest.InferRequestedOutputTensor(name="scores")]
            ),
            "Output 'scores' does not exist; the outputs are label, probabilities.",
        ),
    ],
    ids=[
        "wrong-name",
        "no-input",
        "wrong-datatype",
        "wrong-shape",
        "too-many-texts",
        "shape-and-elements-disagree",
        "bad-raw-encoding",
        "empty-text",
        "references-not-one-per-text",
        "long-reference",
        "long-text",
        "unknown-output",
    ],
)
def test_model_infer_refuses_bad_tensors_with_invalid_argument(
    inference_stub, active_model_id, request_, message
):
    error = rpc_error(inference_stub.ModelInfer, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message


def test_liveness_and_readiness_are_open_and_the_rest_needs_the_credential(
    anonymous_inference_stub, active_model_id
):
    stub = anonymous_inference_stub
    assert stub.ServerLive(oip.ServerLiveRequest(), timeout=5).live is True
    assert stub.ServerReady(oip.ServerReadyRequest(), timeout=5).ready is True
    assert stub.ModelReady(oip.ModelReadyRequest(name="textclf"), timeout=5).ready is True
    for call, request in (
        (stub.ModelInfer, infer_request()),
        (stub.ModelMetadata, oip.ModelMetadataRequest(name="textclf")),
        (stub.ServerMetadata, oip.ServerMetadataRequest()),
    ):
        error = rpc_error(call, request)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "ALGORITHM_SERVICE_TOKEN" in error.details()


def test_grpcurl_lists_the_service_through_reflection(algorithm_services):
    listed = subprocess.run(
        [
            str(support.VENV_BIN / "grpcurl"),
            "-plaintext",
            "-H",
            f"authorization: {support.service_authorization()}",
            algorithm_services.grpc_target,
            "list",
            "inference.GRPCInferenceService",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == [
        f"inference.GRPCInferenceService.{name}"
        for name in sorted(
            (
                "ServerLive",
                "ServerReady",
                "ModelReady",
                "ServerMetadata",
                "ModelMetadata",
                "ModelInfer",
            )
        )
    ]
