"""Generate the Python gRPC code for the contracts under protos/algorithm/.

The generated modules land beside the .proto files' paths, in ``algorithm/v1/`` and
``algorithm/inference/``: a module's import path mirrors its file's path under protos/, and
``algorithm.v1`` also mirrors its proto package. The Open Inference Protocol's package is
``inference``; its code goes under algorithm/ all the same, because only the algorithm
service serves it and a top-level ``inference`` package would pose as a service of its own.
"""

import pathlib
import sys

from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent
GENERATED_DIRS = ("algorithm/v1", "algorithm/inference")
PROTO_FILES = sorted(
    path for folder in GENERATED_DIRS for path in PROTO_ROOT.glob(f"{folder}/*.proto")
)
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
        for folder in GENERATED_DIRS
        for path in (out_dir / folder).iterdir()
        if path.name.endswith(GENERATED_SUFFIXES)
    )


if __name__ == "__main__":
    generated = generate(REPO_ROOT)
    print(
        f"Generated {len(generated)} files into {', '.join(GENERATED_DIRS)} from protos/",
        file=sys.stderr,
    )
