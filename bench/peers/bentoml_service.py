"""BentoML on the project's model version: POST /predict {"text": ...} answers
{"label": ..., "scores": {...}}.

    bentoml serve bentoml_service:TextClassifier --working-dir bench/peers --port N

Each worker process (BENTOML_PEER_WORKERS of them) loads the version once, at its start,
from BENTOML_PEER_VERSION_DIR.
"""

import os

import bentoml
import model_files


@bentoml.service(workers=int(os.environ.get("BENTOML_PEER_WORKERS", "1")))
class TextClassifier:
    def __init__(self) -> None:
        self.vectorizer, self.classifier = model_files.load(os.environ["BENTOML_PEER_VERSION_DIR"])

    @bentoml.api
    def predict(self, text: str) -> dict:
        labels, classes, scores = model_files.predict(self.vectorizer, self.classifier, [text])
        return {"label": labels[0], "scores": dict(zip(classes, scores[0].tolist(), strict=True))}
