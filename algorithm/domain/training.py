"""A training job from start to end, as the worker runs it."""

import logging
import time
import uuid

from algorithm.domain import (
    db,
    evaluation,
    evaluation_sets,
    fast_scoring,
    jobs,
    ml,
    monitoring,
    promotion,
)
from algorithm.domain.datasource import HeldOutRows, open_labelled_stream, read_labelled_rows
from algorithm.domain.drift import ProfileBuilder
from algorithm.domain.records import (
    DataSnapshot,
    EvaluationSetMetrics,
    Job,
    Parameters,
    PromotionDecision,
    TrainingOutcome,
)
from algorithm.domain.store import ModelStore, VersionExists
from common import limits

logger = logging.getLogger(__name__)

_STAGES = ("loading", "training", "evaluating", "saving")
# Where each stage starts on the progress bar. In memory, loading fills the first half by
# rows read. Streaming reads the table twice, training then evaluating, and each pass
# fills its stage by rows read; loading only counts the rows per label.
_STAGE_START = {"loading": 0.0, "training": 0.5, "evaluating": 0.85, "saving": 0.9}
_STREAMING_STAGE_START = {"loading": 0.0, "training": 0.05, "evaluating": 0.65, "saving": 0.95}
_PROGRESS_EVERY_SECONDS = 0.5
_MODEL_ID_NAMESPACE = uuid.UUID("1b3c7c8e-3f0f-4f39-9d0e-6f1f2b7d8a10")


def model_id_for_job(job_id: uuid.UUID) -> str:
    """A job's model id is derived from the job id, so a redelivered job makes no second version."""
    return str(uuid.uuid5(_MODEL_ID_NAMESPACE, str(job_id)))


class _Progress:
    def __init__(self, job_id: uuid.UUID, stage_start: dict[str, float]):
        self.job_id = job_id
        self.stage_start = stage_start
        self.current = _STAGES[0]
        self.rows_read = 0
        self.rows_total = 0
        self._reported_at = 0.0

    def stage(self, stage: str) -> None:
        self.current = stage
        self._report(self.stage_start[stage])

    def rows(self, rows_read: int, rows_total: int) -> None:
        """A batch was read: the pass so far fills that share of the current stage."""
        # Streaming reads the table once per pass: rows_read is the furthest any pass got.
        self.rows_read, self.rows_total = max(self.rows_read, rows_read), rows_total
        now = time.monotonic()
        if now - self._reported_at >= _PROGRESS_EVERY_SECONDS or rows_read == rows_total:
            self._reported_at = now
            share = rows_read / rows_total if rows_total else 1.0
            start = self.stage_start[self.current]
            following = _STAGES.index(self.current) + 1
            end = self.stage_start[_STAGES[following]] if following < len(_STAGES) else 1.0
            self._report(start + (end - start) * share)

    def _report(self, progress: float) -> None:
        jobs.job_progress(
            self.job_id,
            stage=self.current,
            progress=progress,
            rows_read=self.rows_read,
            rows_total=self.rows_total,
        )


def _train(
    algorithm: ml.Algorithm,
    parameters: Parameters,
    progress: _Progress,
    comparison: fast_scoring.HoldOutComparison,
    profile: ProfileBuilder,
) -> tuple[ml.TrainedModel, DataSnapshot, HeldOutRows | None]:
    """Train on the data table, streamed or in memory as the algorithm needs, comparing the
    two runtimes on the held-out texts and profiling them; return the model, the data
    snapshot it was trained on and the evaluation set's rows that were left out of it."""
    on_hold_out = profile.alongside(comparison.observe)
    progress.stage("loading")
    evaluation_sets.sync_current()
    if algorithm.streaming:
        with open_labelled_stream(progress.rows) as stream:
            trained = ml.train_streaming(
                stream.batches,
                stream.label_counts,
                algorithm.name,
                parameters,
                progress.stage,
                on_hold_out,
            )
        return trained, stream.snapshot, stream.held_out
    rows = read_labelled_rows(progress.rows)
    trained = ml.train(
        rows.texts, rows.labels, algorithm.name, parameters, progress.stage, on_hold_out
    )
    return trained, rows.snapshot, rows.held_out


def _measured_on(trained: ml.TrainedModel, held_out: HeldOutRows) -> EvaluationSetMetrics:
    """The version's scores on the evaluation set's rows."""
    metrics = evaluation.evaluate(
        trained.classifier, trained.vectorizer, held_out.texts, held_out.labels
    )
    return {"set_id": held_out.set_id, "rows": len(held_out.texts), "metrics": metrics}


def run_training_job(
    job_id: str,
    store: ModelStore | None = None,
    *,
    activate: bool = True,
    retrained_from: str | None = None,
) -> PromotionDecision | None:
    """Train on the data table, publish the model version (noting in its manifest the
    version it retrains, if any) and, unless told not to, make it active. A challenger's
    job (promotion) activates it only if the promotion policy's rule says so, and returns
    the decision."""
    store = store or ModelStore()
    job_uuid = uuid.UUID(job_id)
    job = jobs.job_start(job_uuid)
    if job is None:
        logger.info("Job %s is gone, ended or running elsewhere; nothing to do", job_id)
        return None
    with jobs.heartbeat(job_uuid):
        return _run(job, model_id_for_job(job_uuid), store, activate, retrained_from)


def _run(
    job: Job,
    model_id: str,
    store: ModelStore,
    activate: bool,
    retrained_from: str | None,
) -> PromotionDecision | None:
    job_id, job_uuid = str(job["id"]), job["id"]
    started = time.monotonic()
    decision = None
    try:
        if store.exists(model_id):
            # A redelivery of a job whose model was published before the worker died.
            manifest = store.read_manifest(model_id)
        else:
            algorithm = ml.ALGORITHMS[job["algorithm"]]
            progress = _Progress(
                job_uuid, _STREAMING_STAGE_START if algorithm.streaming else _STAGE_START
            )
            comparison, profile = fast_scoring.HoldOutComparison(), ProfileBuilder()
            trained, snapshot, held_out = _train(
                algorithm, job["parameters"], progress, comparison, profile
            )
            progress.stage("saving")
            outcome: TrainingOutcome = {
                "job_id": job_id,
                "algorithm": job["algorithm"],
                "parameters": job["parameters"],
                "labels": trained.labels,
                "row_count": snapshot["rows"],
                "data_snapshot": snapshot,
                "metrics": trained.metrics,
                "training_seconds": round(time.monotonic() - started, 3),
                "runtime": comparison.record(),
                "reference_profile": profile.profile(
                    trained.hold_out_true, trained.hold_out_predicted
                ),
            }
            if retrained_from:
                outcome["retrained_from"] = retrained_from
            if held_out is not None and held_out.texts:
                outcome["evaluation"] = _measured_on(trained, held_out)
            try:
                manifest = store.publish(model_id, trained.vectorizer, trained.classifier, outcome)
            except VersionExists:
                # Another run of this job (one taken for dead, say) published first.
                manifest = store.read_manifest(model_id)
            else:
                # The hold-out outcome, so the new model can be monitored at once (S3). The
                # split is random, so its head is a fair sample where a big table's hold-out
                # exceeds what one results row may hold.
                sample = limits.MAX_RESULT_LABELS
                monitoring.result_insert(
                    model_id=model_id,
                    y_true=trained.hold_out_true[:sample],
                    y_pred=trained.hold_out_predicted[:sample],
                )
        if job["promotion"]:
            decision = promotion.decide(job, model_id, store)
        elif activate:
            store.activate(model_id)
    except db.LOST:
        # The job stays running, untouched: once the database is back it is queued again
        # (jobs.requeue_orphaned) and retried from the start.
        logger.warning("Job %s lost the database; it will be retried", job_id, exc_info=True)
        return None
    except ml.TrainingDataError as error:
        jobs.job_fail(job_uuid, error=str(error))
        logger.info("Job %s cannot train: %s", job_id, error)
        return None
    except Exception as error:
        jobs.job_fail(job_uuid, error=f"Training failed: {type(error).__name__}: {error}")
        logger.exception("Job %s failed", job_id)
        return None
    jobs.job_succeed(job_uuid, model_id=model_id, metrics=manifest["metrics"])
    logger.info("Job %s made model %s: %s", job_id, model_id, manifest["metrics"]["accuracy"])
    return decision
