"""BentoML on the project's model version, two ways:

- TextClassifier, as shipped: POST /predict {"text": ...} answers {"label": ..., "scores": {...}};
- BatchedTextClassifier, at its best (adaptive batching, an async API, no access log):
  POST /predict {"texts": [text]} answers [{"label": ..., "scores": {...}}]; BentoML gathers the
  texts of concurrent requests into one call.

    bentoml serve bentoml_service:TextClassifier --working-dir bench/peers --port N

Each worker process (BENTOML_PEER_WORKERS of them) loads the version once, at its start,
from BENTOML_PEER_VERSION_DIR.
"""

import os

import bentoml
import model_files

WORKERS = int(os.environ.get("BENTOML_PEER_WORKERS", "1"))
# Above the c32 load's whole queue (a batch a few ms long): BentoML answers 503 to a request
# it expects to wait longer than this, and the bench counts every 503 as an error.
MAX_LATENCY_MS = 1000
# Enough for every request in flight at the bench's highest concurrency.
MAX_BATCH_SIZE = 64


def _answer(vectorizer, classifier, texts: list[str]) -> list[dict]:
    labels, classes, scores = model_files.predict(vectorizer, classifier, texts)
    return [
        {"label": label, "scores": dict(zip(classes, row.tolist(), strict=True))}
        for label, row in zip(labels, scores, strict=True)
    ]


@bentoml.service(workers=WORKERS)
class TextClassifier:
    def __init__(self) -> None:
        self.vectorizer, self.classifier = model_files.load(os.environ["BENTOML_PEER_VERSION_DIR"])

    @bentoml.api
    def predict(self, text: str) -> dict:
        return _answer(self.vectorizer, self.classifier, [text])[0]


@bentoml.service(workers=WORKERS, logging={"access": {"enabled": False}})
class BatchedTextClassifier:
    def __init__(self) -> None:
        self.vectorizer, self.classifier = model_files.load(os.environ["BENTOML_PEER_VERSION_DIR"])

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS)
    async def predict(self, texts: list[str]) -> list[dict]:
        return _answer(self.vectorizer, self.classifier, texts)
