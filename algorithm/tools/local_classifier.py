"""The model component: train, evaluate, predict with and warm up the versions of a ModelStore.

It runs the code the worker and the serving processes run (algorithm.domain.ml, .store and
.evaluation) on rows the caller brings, so it needs no database, queue or server. The
command line (algorithm.tools.cli) is built on it.
"""

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TypedDict

from algorithm.domain import drift, evaluation, fast_scoring, ml
from algorithm.domain.errors import NotFound
from algorithm.domain.records import DataSnapshot, Manifest, Metrics
from algorithm.domain.store import (
    LoadedModel,
    ModelIntegrityError,
    ModelStore,
)

# Warmup classifies this: any text goes through the whole pipeline.
WARMUP_TEXT = "warmup"


class LocalPrediction(TypedDict):
    """A prediction made here, outside the service: it has no id, and no log records it."""

    label: str
    scores: dict[str, float]
    model_id: str


class Evaluation(TypedDict):
    model_id: str
    row_count: int
    metrics: Metrics


class TextClassifier:
    """Model versions in one store. A model_id of None means the active version."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def train(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        algorithm: str = ml.DEFAULT_ALGORITHM,
        parameters: Mapping[str, object] | None = None,
        data_snapshot: DataSnapshot | None = None,
    ) -> Manifest:
        """Train a new version on the rows, publish it under a new UUID, make it active.

        Returns its manifest, with the worker's metadata; job_id is None, as no job made it.
        Raises InvalidArgument for an unknown algorithm or parameter, TrainingDataError for
        rows that cannot train a model.
        """
        resolved = ml.resolve_parameters(algorithm, parameters or {})
        started = time.monotonic()
        # The rows are in memory already, so ml.train fits every algorithm, streaming ones
        # too: the worker streams only because a table can outgrow its memory.
        comparison, profile = fast_scoring.HoldOutComparison(), drift.ProfileBuilder()
        trained = ml.train(
            texts, labels, algorithm, resolved, on_hold_out=profile.alongside(comparison.observe)
        )
        model_id = str(uuid.uuid4())
        manifest = self.store.publish(
            model_id,
            trained.vectorizer,
            trained.classifier,
            {
                "job_id": None,
                "algorithm": algorithm,
                "parameters": resolved,
                "labels": trained.labels,
                "row_count": len(texts),
                "data_snapshot": data_snapshot or {"rows": len(texts)},
                "metrics": trained.metrics,
                "training_seconds": round(time.monotonic() - started, 3),
                "runtime": comparison.record(),
                "reference_profile": profile.profile(
                    trained.hold_out_true, trained.hold_out_predicted
                ),
            },
        )
        self.store.activate(model_id)
        return manifest

    def evaluate(
        self, texts: Sequence[str], labels: Sequence[str], model_id: str | None = None
    ) -> Evaluation:
        """Score a version on labelled rows: {"model_id", "row_count", "metrics"}, the metrics
        as an evaluation job records them (with the confusion matrix)."""
        if not texts:
            raise ml.TrainingDataError("There are no labelled rows to evaluate on.")
        model = self._load(model_id)
        metrics = evaluation.evaluate(model.classifier, model.vectorizer, texts, labels)
        return {"model_id": model.model_id, "row_count": len(texts), "metrics": metrics}

    def predict(self, texts: Sequence[str], model_id: str | None = None) -> list[LocalPrediction]:
        """{"label", "scores", "model_id"} per text, in order."""
        model = self._load(model_id)
        predictions: list[LocalPrediction] = []
        # In batches, as evaluation does, so a large file never becomes one huge matrix.
        for start in range(0, len(texts), evaluation.PREDICT_BATCH):
            batch = texts[start : start + evaluation.PREDICT_BATCH]
            predictions.extend(
                {"label": label, "scores": scores, "model_id": model.model_id}
                for label, scores in model.predict(batch)
            )
        return predictions

    def warmup(self, model_id: str | None = None) -> Manifest:
        """Load a version as a serving process does (signature, checksums, scikit-learn
        version), classify one text with it, and return its manifest."""
        model = self._load(model_id)
        model.predict([WARMUP_TEXT])
        return model.manifest

    def _load(self, model_id: str | None) -> LoadedModel:
        """Raises NotFound for no such version (or none yet), ModelIntegrityError for a
        version that must not be loaded."""
        model_id = model_id or self._active_id()
        try:
            return self.store.load(model_id)
        except OSError as error:
            # The manifest was read, so the version exists: its pickles are missing or broken.
            raise ModelIntegrityError(
                f"files of {model_id} are unreadable: {error}", "missing_file"
            ) from error

    def _active_id(self) -> str:
        # A bad pointer raises ModelIntegrityError, which never quotes what it holds.
        active_id = self.store.read_active_id()
        if active_id is None:
            raise NotFound(f"No model has been trained yet in {self.store.root}: train one first.")
        return active_id
