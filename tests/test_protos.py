"""The generated gRPC code never drifts from protos/, the contracts pass buf lint, and the
inference protocol's stays wire-compatible with the standard clients'."""

import subprocess

import pytest
from google.protobuf import descriptor_pb2

from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from common import limits
from protos.generate import GENERATED_DIRS, PROTO_ROOT, REPO_ROOT, generate
from tests import support

BUF = REPO_ROOT / ".venv" / "node" / "node_modules" / ".bin" / "buf"


def test_generated_code_matches_the_proto_files(tmp_path):
    fresh = generate(tmp_path)
    committed = sorted(
        path for folder in GENERATED_DIRS for path in (REPO_ROOT / folder).glob("*_pb2*.py*")
    )
    assert [path.name for path in committed] == [path.name for path in fresh]
    for new, old in zip(fresh, committed, strict=True):
        assert new.read_bytes() == old.read_bytes(), f"{old.name} is stale: run `make protos`"


def test_buf_lint_passes_with_the_standard_rules():
    assert BUF.exists(), "buf is missing: run `make install`"
    result = subprocess.run(
        [str(BUF), "lint"], cwd=REPO_ROOT / "protos", capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_limits_the_protos_state_are_the_ones_the_code_enforces():
    # common.limits defines each limit once; the proto comments can only quote them.
    prediction = (PROTO_ROOT / "algorithm" / "v1" / "prediction.proto").read_text()
    assert f"at most {limits.DEFAULT_MAX_TEXT_CHARS:,} characters (MAX_TEXT_CHARS)" in prediction
    assert f"1 to {limits.MAX_BATCH_TEXTS:,}, each as in PredictRequest.text" in prediction


@pytest.mark.slow
def test_the_inference_protocol_matches_tritonclients_field_by_field(tmp_path):
    result = support.run_inference_client("compare_descriptors.py", _our_descriptor(tmp_path))
    assert result["differences"] == []
    # Every message, nested message, field, service and method of ours was looked at.
    assert "inference.ModelInferRequest.InferInputTensor.contents" in result["compared"]
    assert "inference.InferParameter.string_param" in result["compared"]
    assert "GRPCInferenceService.ModelInfer" in result["compared"]
    assert len(result["compared"]) == 94


@pytest.mark.slow
def test_the_comparison_catches_a_changed_field_number(tmp_path):
    changed = descriptor_pb2.FileDescriptorProto.FromString(oip_pb2.DESCRIPTOR.serialized_pb)
    request = next(m for m in changed.message_type if m.name == "ModelInferRequest")
    next(f for f in request.field if f.name == "raw_input_contents").number = 8
    parameter = next(m for m in changed.message_type if m.name == "InferParameter")
    parameter.field[0].ClearField("oneof_index")
    result = support.run_inference_client(
        "compare_descriptors.py", _our_descriptor(tmp_path, changed.SerializeToString())
    )
    assert result["differences"] == [
        "field inference.ModelInferRequest.raw_input_contents: number is 8, tritonclient's is 7",
        "field inference.InferParameter.bool_param: oneof is None, "
        "tritonclient's is 'parameter_choice'",
    ]


def _our_descriptor(tmp_path, serialized: bytes = oip_pb2.DESCRIPTOR.serialized_pb) -> str:
    path = tmp_path / "grpc_predict_v2.pb"
    path.write_bytes(serialized)
    return str(path)
