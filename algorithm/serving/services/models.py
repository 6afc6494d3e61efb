"""ModelService: model versions (list, read, activate, delete), evaluations and their
metric records, and their live accuracy from feedback."""

import logging

from algorithm.domain import live_accuracy, metric_records
from algorithm.domain.errors import InvalidArgument, check_no_nul, parse_uuid
from algorithm.domain.records import Manifest, MetricRecord
from algorithm.domain.store import parse_model_id
from algorithm.serving import drift_metrics
from algorithm.serving.model_repository import model_repository
from algorithm.serving.services import monitoring
from algorithm.serving.services.paging import next_page_token, page_bounds
from algorithm.serving.services.prediction import check_text
from algorithm.serving.services.training import job_message
from algorithm.v1 import models_pb2
from common import limits
from common.proto_json import from_json

logger = logging.getLogger(__name__)


def model_message(manifest: Manifest, active_id: str | None) -> models_pb2.Model:
    return from_json(
        models_pb2.Model,
        {
            **manifest,
            "data_snapshot": manifest.get("data_snapshot") or {},
            "create_time": manifest["created_time"],
            "active": manifest["model_id"] == active_id,
        },
    )


def list_models(*, page_size: int = 0, page_token: str = "") -> models_pb2.ListModelsResponse:
    """One page of model versions, newest first."""
    offset, size = page_bounds(page_size, page_token)
    store = model_repository.store
    manifests = store.list_manifests()
    active_id = store.active_id()
    page = manifests[offset : offset + size]
    return models_pb2.ListModelsResponse(
        models=[model_message(manifest, active_id) for manifest in page],
        next_page_token=next_page_token(offset, size, len(manifests)),
        total_size=len(manifests),
    )


def get_model(*, model_id: str) -> models_pb2.Model:
    store = model_repository.store
    return model_message(store.read_manifest(parse_model_id(model_id)), store.active_id())


def get_model_detail(*, model_id: str) -> models_pb2.GetModelResponse:
    """A version's record and its drift: what this server's processes served of it since
    they started against the hold-out profile in its manifest."""
    store = model_repository.store
    manifest = store.read_manifest(parse_model_id(model_id))
    measured = drift_metrics.version_drift(manifest["model_id"], manifest.get("reference_profile"))
    return models_pb2.GetModelResponse(
        model=model_message(manifest, store.active_id()),
        drift=from_json(models_pb2.Drift, measured),
    )


def activate_model(*, model_id: str) -> models_pb2.Model:
    """Make a version the default for predictions; serving processes switch within a second."""
    store = model_repository.store
    store.activate(model_id)
    return get_model(model_id=model_id)


def delete_model(*, model_id: str) -> models_pb2.DeleteModelResponse:
    """Delete a version's files and its metric records; the active version is refused."""
    model_id = parse_model_id(model_id)
    model_repository.store.delete(model_id)
    metric_records.metric_records_delete_for_model(model_id)
    monitoring.schedule_delete(model_id=model_id, missing_ok=True)
    return models_pb2.DeleteModelResponse(model_id=model_id)


def evaluate_model(*, model_id: str, rows: object = None) -> models_pb2.EvaluateModelResponse:
    """Queue an evaluation on the data table, or on the given [(text, label)] rows."""
    manifest = model_repository.store.read_manifest(parse_model_id(model_id))
    checked = _check_rows(rows) if rows is not None else None
    job, record = metric_records.metric_record_create(
        model_id=manifest["model_id"], algorithm=manifest["algorithm"], rows=checked or None
    )
    # Imported here so the serving paths never pay for Celery's import.
    from algorithm.jobqueue import enqueue_job

    enqueue_job(job)
    logger.info("Queued evaluation job %s of model %s", job["id"], manifest["model_id"])
    return models_pb2.EvaluateModelResponse(
        job=job_message(job), metric_record=_metric_record_message(record)
    )


def _check_rows(rows: object) -> list[tuple[str, str]]:
    if not isinstance(rows, list):
        raise InvalidArgument("rows must be a list of {text, label} objects.")
    if len(rows) > limits.MAX_EVALUATION_ROWS:
        raise InvalidArgument(
            f"rows has {len(rows)} items; the limit is {limits.MAX_EVALUATION_ROWS} per evaluation."
        )
    checked = []
    for index, row in enumerate(rows):
        text, label = row if isinstance(row, tuple) else (row.get("text"), row.get("label"))
        checked.append((check_text(text, f"rows[{index}].text"), _check_label(label, index)))
    return checked


def _check_label(label: object, index: int) -> str:
    if not isinstance(label, str) or not label.strip():
        raise InvalidArgument(f"rows[{index}].label must be a non-empty string.")
    if len(label) > limits.MAX_LABEL_CHARS:
        raise InvalidArgument(
            f"rows[{index}].label has {len(label)} characters; "
            f"the limit is {limits.MAX_LABEL_CHARS}."
        )
    check_no_nul(label, f"rows[{index}].label")
    return label


def _metric_record_message(row: MetricRecord) -> models_pb2.MetricRecord:
    return from_json(models_pb2.MetricRecord, {**row, "metric_id": row["id"]})


def get_metric_record(*, metric_id: str) -> models_pb2.MetricRecord:
    return _metric_record_message(metric_records.metric_record_get(metric_id))


def list_metric_records(*, model_id: str) -> models_pb2.ListMetricRecordsResponse:
    model_id = parse_model_id(model_id)
    records = metric_records.metric_record_list(model_id)
    if not records:
        # An unknown model is a NotFound, not an empty list.
        model_repository.store.read_manifest(model_id)
    return models_pb2.ListMetricRecordsResponse(
        metric_records=[_metric_record_message(record) for record in records]
    )


def delete_metric_record(*, metric_id: str) -> models_pb2.DeleteMetricRecordResponse:
    metric_records.metric_record_delete(metric_id)
    return models_pb2.DeleteMetricRecordResponse(metric_id=str(parse_uuid(metric_id, "metric_id")))


def live_window_message(window: live_accuracy.Window) -> models_pb2.LiveAccuracyWindow:
    return models_pb2.LiveAccuracyWindow(
        size=window.size,
        feedback_count=window.feedback,
        correct_count=window.correct,
        accuracy=window.accuracy,
        labels=[
            models_pb2.LiveLabelAccuracy(
                label=figures.label,
                precision=figures.precision,
                recall=figures.recall,
                support=figures.support,
                predicted_count=figures.predicted,
                correct_count=figures.correct,
            )
            for figures in window.labels
        ],
    )


def get_live_accuracy(*, model_id: str) -> models_pb2.GetLiveAccuracyResponse:
    """A version's accuracy on the feedback its logged predictions got, beside its hold-out
    accuracy; NotFound for a version not on the volume, Unavailable without the database."""
    manifest = model_repository.store.read_manifest(parse_model_id(model_id))
    found = live_accuracy.live_accuracy([manifest["model_id"]])[manifest["model_id"]]
    return models_pb2.GetLiveAccuracyResponse(
        model_id=found.model_id,
        last_rows=live_window_message(found.last_rows),
        last_days=live_window_message(found.last_days),
        holdout_accuracy=manifest["metrics"]["accuracy"],
    )
