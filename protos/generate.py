"""Generate the Python gRPC code for the protos/algorithm/v1 contracts.

The generated modules land in ``algorithm/v1/``: their import path must mirror the
proto package ``algorithm.v1``, and that path is taken by the algorithm service's own
package, which is where the contracts are served from anyway.
"""

import pathlib
import sys

from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent
PROTO_FILES = sorted(PROTO_ROOT.glob("algorithm/v1/*.proto"))
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Write the generated modules under ``out_dir`` and return their paths."""
    include_wkt = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include_wkt}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(path) for path in PROTO_FILES),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed; see the messages above")
    return sorted(
        path
        for path in (out_dir / "algorithm" / "v1").iterdir()
        if path.name.endswith(GENERATED_SUFFIXES)
    )


if __name__ == "__main__":
    generated = generate(REPO_ROOT)
    print(f"Generated {len(generated)} files into algorithm/v1/ from protos/", file=sys.stderr)
