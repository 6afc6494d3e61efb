"""The generated gRPC code never drifts from protos/, and the contracts pass buf lint."""

import subprocess

from protos.generate import REPO_ROOT, generate

BUF = REPO_ROOT / ".venv" / "node" / "node_modules" / ".bin" / "buf"


def test_generated_code_matches_the_proto_files(tmp_path):
    fresh = generate(tmp_path)
    committed = sorted((REPO_ROOT / "algorithm" / "v1").glob("*_pb2*.py*"))
    assert [path.name for path in committed] == [path.name for path in fresh]
    for new, old in zip(fresh, committed, strict=True):
        assert new.read_bytes() == old.read_bytes(), f"{old.name} is stale: run `make protos`"


def test_buf_lint_passes_with_the_standard_rules():
    assert BUF.exists(), "buf is missing: run `make install`"
    result = subprocess.run(
        [str(BUF), "lint"], cwd=REPO_ROOT / "protos", capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
