"""Call the algorithm server's inference protocol with tritonclient, as a user would.

Run with the tool environment's python (make tritonclient):
    INFERENCE_AUTHORIZATION='Bearer ...' .venv-tritonclient/bin/python \
        tests/inference_client/check_client.py TARGET VERSION TEXT...

The credential comes in the environment, never on the command line. Prints a JSON object of
what the client saw, for tests/processes/test_inference_client.py to judge.
"""

import json
import os
import sys

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

MODEL = "textclf"
NO_SUCH_VERSION = "00000000-0000-0000-0000-000000000000"


def infer(client, texts, headers, model_name=MODEL, version="", outputs=None):
    tensor = triton.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([text.encode() for text in texts], dtype=np.object_))
    requested = [triton.InferRequestedOutput(name) for name in outputs] if outputs else None
    return client.infer(
        model_name, [tensor], model_version=version, outputs=requested, headers=headers
    )


def status(call) -> str:
    try:
        call()
    except InferenceServerException as error:
        return error.status()
    return "OK"


def main(target: str, version: str, texts: list[str]) -> None:
    headers = {"authorization": os.environ["INFERENCE_AUTHORIZATION"]}
    client = triton.InferenceServerClient(target)
    result = infer(client, texts, headers)
    pinned = infer(client, texts, headers, version=version, outputs=["label"])
    response = result.get_response()
    metadata = client.get_model_metadata(MODEL, headers=headers, as_json=True)
    seen = {
        # Open, as health is: no credential.
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(MODEL),
        "version_ready": client.is_model_ready(MODEL, version),
        "server": client.get_server_metadata(headers=headers, as_json=True),
        "model": metadata,
        "model_version": response.model_version,
        "labels": [label.decode() for label in result.as_numpy("label")],
        "probabilities": result.as_numpy("probabilities").tolist(),
        "probabilities_dtype": str(result.as_numpy("probabilities").dtype),
        "class_order": json.loads(response.parameters["labels"].string_param),
        "pinned_version": pinned.get_response().model_version,
        "pinned_outputs": [output.name for output in pinned.get_response().outputs],
        "pinned_labels": [label.decode() for label in pinned.as_numpy("label")],
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
                            np.zeros(1, dtype=np.float32)
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
