"""Call the inference protocol's REST form with tritonclient's HTTP client, as a user would,
with the binary-data extension off (it is Triton's, not the protocol's).

Run with the tool environment's python (make tritonclient):
    INFERENCE_AUTHORIZATION='Bearer ...' .venv-tritonclient/bin/python \
        tests/inference_client/check_client_http.py URL VERSION TEXT...

URL is host:port[/prefix] of the shim or of web. The authorization header comes in the
environment, never on the command line. Prints a JSON object of what the client saw.
"""

import json
import os
import sys

import numpy as np
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

MODEL = "textclf"
NO_SUCH_VERSION = "00000000-0000-0000-0000-000000000000"


def infer(client, texts, headers, model_name=MODEL, version="", outputs=("label", "probabilities")):
    tensor = triton.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array(texts, dtype=np.object_), binary_data=False)
    requested = [triton.InferRequestedOutput(name, binary_data=False) for name in outputs]
    return client.infer(
        model_name, [tensor], model_version=version, outputs=requested, headers=headers
    )


def status(call) -> str:
    try:
        call()
    except InferenceServerException as error:
        return error.status()
    return "200"


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def main(url: str, version: str, texts: list[str]) -> None:
    headers = {"authorization": os.environ["INFERENCE_AUTHORIZATION"]}
    client = triton.InferenceServerClient(url)
    result = infer(client, texts, headers)
    pinned = infer(client, texts, headers, version=version, outputs=("label",))
    response = result.get_response()
    seen = {
        # Open, as health is: no credential.
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(MODEL),
        "version_ready": client.is_model_ready(MODEL, version),
        "server": client.get_server_metadata(headers=headers),
        "model": client.get_model_metadata(MODEL, headers=headers),
        "model_version": response["model_version"],
        "labels": [text(label) for label in result.as_numpy("label")],
        "probabilities": np.asarray(result.as_numpy("probabilities"), dtype=float).tolist(),
        "class_order": json.loads(response["parameters"]["labels"]),
        "pinned_version": pinned.get_response()["model_version"],
        "pinned_outputs": [output["name"] for output in pinned.get_response()["outputs"]],
        "errors": {
            "no_credential": status(lambda: infer(client, texts, headers={})),
            "unknown_model": status(lambda: infer(client, texts, headers, model_name="resnet")),
            "unknown_version": status(
                lambda: infer(client, texts, headers, version=NO_SUCH_VERSION)
            ),
            "wrong_datatype": status(
                lambda: client.infer(
                    MODEL,
                    [
                        triton.InferInput("text", [1], "FP32").set_data_from_numpy(
                            np.zeros(1, dtype=np.float32), binary_data=False
                        )
                    ],
                    headers=headers,
                )
            ),
        },
    }
    client.close()
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
