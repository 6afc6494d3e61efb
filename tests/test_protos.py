"""The generated gRPC code never drifts from protos/, and the contracts pass buf lint."""

import subprocess

from common import limits
from protos.generate import GENERATED_DIRS, PROTO_ROOT, REPO_ROOT, generate

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
