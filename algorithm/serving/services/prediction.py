"""PredictionService: classify texts with a loaded model version. Every prediction gets its
id, and the prediction log (algorithm/domain/prediction_log.py) the record of it that its
policy keeps: every entry point (gRPC Predict and PredictBatch, the inference protocol, the
shim) comes through predict_batch's scoring, so each prediction is recorded once."""

import uuid
from collections.abc import Sequence

from prometheus_client import multiprocess

from algorithm import settings
from algorithm.domain.errors import InvalidArgument, Unavailable, check_no_nul
from algorithm.domain.prediction_log import Policy
from algorithm.domain.prediction_log_writer import PredictionLog
from algorithm.serving import drift_metrics
from algorithm.serving.metrics import (
    PREDICTION_BATCH_TEXTS,
    PREDICTION_LOG_RECORDS,
    PREDICTIONS,
)
from algorithm.serving.model_repository import model_repository
from common import limits
from common import settings as common_settings
from common.coalescing import INTERNAL, BatchPrediction, Origin, Prediction, PredictionCoalescer
from common.credentials import secret


def check_text(text: object, where: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidArgument(f"{where} must be a string.")
    if limits.is_blank(text):
        raise InvalidArgument(f"{where} must not be empty.")
    if len(text) > limits.MAX_TEXT_CHARS:
        raise InvalidArgument(
            f"{where} has {len(text)} characters; the limit is {limits.MAX_TEXT_CHARS}."
        )
    check_no_nul(text, where)
    return text


def _check_origin_part(value: object, where: str, limit: int) -> str:
    """A reference, caller or request id: a string (empty means none) of at most `limit`
    characters, as the prediction log's columns hold them."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{where} must be a string.")
    if len(value) > limit:
        raise InvalidArgument(f"{where} has {len(value)} characters; the limit is {limit}.")
    check_no_nul(value, where)
    return value


def _origin(reference: object, caller: object, request_id: object) -> Origin:
    """One prediction's origin, each part checked."""
    return Origin(
        _check_origin_part(reference, "reference", limits.MAX_REFERENCE_CHARS),
        _check_origin_part(caller, "caller", limits.MAX_CALLER_CHARS),
        _check_origin_part(request_id, "request_id", limits.MAX_REQUEST_ID_CHARS),
    )


def _parallel(values: Sequence[object], field: str, count: int, limit: int) -> list[str]:
    """A list parallel to the texts, each checked; empty means "" for every text."""
    if not isinstance(values, list | tuple):
        raise InvalidArgument(f"{field} must be a list of strings, one per text.")
    if not values:
        return [""] * count
    if len(values) != count:
        raise InvalidArgument(
            f"{field} has {len(values)} items for {count} texts; send none, or one per text."
        )
    return [_check_origin_part(v, f"{field}[{i}]", limit) for i, v in enumerate(values)]


def predict(
    *,
    text: object,
    model_id: str = "",
    reference: object = "",
    caller: object = "",
    request_id: object = "",
) -> Prediction:
    """Classify one text: {"label", "scores", "prediction_id", "reference", "model_id"}.

    Texts that arrive at once share one call to the model (see coalescing.py), unless
    PREDICT_COALESCING is off; each keeps its own origin (reference, caller, request id) in
    the prediction log.
    """
    checked = check_text(text)
    origin = _origin(reference, caller, request_id)
    return _predict_one(text=checked, model_id=model_id, origin=origin)


def predict_batch(
    *,
    texts: object,
    model_id: str = "",
    field: str = "texts",
    references: Sequence[object] = (),
    reference_field: str = "references",
    callers: Sequence[object] = (),
    request_ids: Sequence[object] = (),
) -> BatchPrediction:
    """Classify many texts with one version:
    {"predictions": [{"label", "scores", "prediction_id", "reference"}], "model_id"}.

    Each prediction's scores follow the model's class order. references, callers and
    request_ids are each empty or one per text. Messages name the texts by field, and the
    references by reference_field, the caller's names for them.
    """
    if not isinstance(texts, list) or not texts:
        raise InvalidArgument(f"{field} must be a non-empty list of strings.")
    if len(texts) > limits.MAX_BATCH_TEXTS:
        raise InvalidArgument(
            f"{field} has {len(texts)} items; the limit is {limits.MAX_BATCH_TEXTS} per call."
        )
    checked = [check_text(text, f"{field}[{index}]") for index, text in enumerate(texts)]
    count = len(checked)
    origins = [
        Origin(*parts)
        for parts in zip(
            _parallel(references, reference_field, count, limits.MAX_REFERENCE_CHARS),
            _parallel(callers, "callers", count, limits.MAX_CALLER_CHARS),
            _parallel(request_ids, "request_ids", count, limits.MAX_REQUEST_ID_CHARS),
            strict=True,
        )
    ]
    return _score(checked, model_id, origins)


def _score(texts: list[str], model_id: str, origins: list[Origin]) -> BatchPrediction:
    """Checked texts scored in one call to the model, each prediction given its id and handed
    to the prediction log."""
    model = model_repository.get(model_id)
    token_counts: list[tuple[int, int]] = []
    predictions = model.predict(texts, token_counts)
    prediction_ids = [str(uuid.uuid4()) for _ in texts]
    PREDICTIONS.labels(model.model_id).inc(len(texts))
    PREDICTION_BATCH_TEXTS.observe(len(texts))
    drift_metrics.record(model.model_id, texts, predictions, token_counts)
    if prediction_log is not None:
        prediction_log.record(model.model_id, texts, predictions, prediction_ids, origins)
    return {
        "predictions": [
            {
                "label": label,
                "scores": scores,
                "prediction_id": prediction_id,
                "reference": origin.reference,
            }
            for (label, scores), prediction_id, origin in zip(
                predictions, prediction_ids, origins, strict=True
            )
        ],
        "model_id": model.model_id,
    }


def _predict_alone(*, text: str, model_id: str, origin: Origin = INTERNAL) -> Prediction:
    reply = _score([text], model_id, [origin])
    return {**reply["predictions"][0], "model_id": reply["model_id"]}


_predict_one = (
    PredictionCoalescer(
        _score,
        max_batch=common_settings.COALESCE_MAX_BATCH,
        max_in_flight=common_settings.COALESCE_MAX_IN_FLIGHT,
        timeout=10.0,
        # No text is sent again alone: predict() checked each one before it joined a batch,
        # so what refuses a batch (its model version) refuses each of its texts.
        busy_error=lambda: Unavailable("Too busy to answer in time; try again shortly."),
    ).predict
    if common_settings.PREDICT_COALESCING
    else _predict_alone
)

prediction_log = (
    PredictionLog(
        Policy.from_settings(),
        queue_size=settings.PREDICTION_LOG_QUEUE,
        counted=lambda outcome, count: PREDICTION_LOG_RECORDS.labels(outcome).inc(count),
    )
    if settings.PREDICTION_LOG
    else None
)


def start_prediction_log() -> None:
    """Start this process's prediction log writer, unless PREDICTION_LOG is off: each
    serving process does as it starts (the gRPC server's processes, the shim's workers).
    A process with no PREDICTION_LOG_KEY, set or generated, stops here."""
    if prediction_log is not None:
        prediction_log.start(secret("PREDICTION_LOG_KEY"))


def texts_predicted() -> int:
    """Texts this server has classified since it started: its prediction counter summed over
    every version and every process of its tree (the ALGORITHM_GRPC_PROCESSES of the gRPC
    server, the shim's workers), whose samples are in the tree's multiprocess files; outside
    of the launcher, this process's own."""
    if common_settings.METRICS_TREE:
        files = (common_settings.METRICS_DIR / common_settings.METRICS_TREE).glob("counter_*.db")
        families = multiprocess.MultiProcessCollector.merge([str(path) for path in files])
    else:
        families = PREDICTIONS.collect()
    name = next(iter(PREDICTIONS.describe())).name
    return int(
        sum(
            sample.value
            for metric in families
            if metric.name == name
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    )
