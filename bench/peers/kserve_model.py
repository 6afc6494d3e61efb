"""KServe's Python model server on the project's model version: its V1 route
(POST /v1/models/<name>:predict, {"instances": [text, ...]}) and its V2, Open Inference
Protocol route (POST /v2/models/<name>/infer, a BYTES input "text").

    python kserve_model.py --model_name textclf --version_dir DIR --http_port N --workers 2

The model is loaded once, in the parent process; KServe hands it to each worker process.
"""

import argparse

import kserve
import model_files
from kserve import InferOutput, InferRequest, InferResponse
from kserve.protocol.rest.multiprocess.server import RESTServerProcess
from kserve.utils.utils import generate_uuid

# KServe's parent replaces a worker that does not answer its liveness ping within 5 s, and a
# new worker answers only once it has imported KServe and scikit-learn: over 5 s on a busy
# 2-core machine, where the workers would be replaced forever. Only the ping waits longer.
_stock_is_alive = RESTServerProcess.is_alive
RESTServerProcess.is_alive = lambda process, timeout=60: _stock_is_alive(process, timeout)


class TextClassifier(kserve.Model):
    def __init__(self, name: str, version_dir: str):
        super().__init__(name)
        self.version_dir = version_dir
        self.vectorizer = self.classifier = None

    def load(self) -> bool:
        self.vectorizer, self.classifier = model_files.load(self.version_dir)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            texts = [
                text.decode() if isinstance(text, bytes) else text
                for text in payload.inputs[0].data
            ]
        else:
            texts = payload["instances"]
        labels, classes, scores = model_files.predict(self.vectorizer, self.classifier, texts)
        if not isinstance(payload, InferRequest):
            return {
                "predictions": [
                    {"label": label, "scores": dict(zip(classes, row.tolist(), strict=True))}
                    for label, row in zip(labels, scores, strict=True)
                ]
            }
        return InferResponse(
            # As KServe's own servers answer a request that named no id.
            response_id=payload.id or generate_uuid(),
            model_name=self.name,
            infer_outputs=[
                InferOutput("label", [len(labels)], "BYTES", labels),
                InferOutput("scores", list(scores.shape), "FP32", scores.astype("float32")),
            ],
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--version_dir", required=True)
    args, _ = parser.parse_known_args()
    model = TextClassifier(args.model_name, args.version_dir)
    model.load()
    kserve.ModelServer().start([model])
