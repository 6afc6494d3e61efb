"""PredictionService: classify texts with a loaded model version."""

from prometheus_client import multiprocess

from algorithm.domain.errors import InvalidArgument, Unavailable, check_no_nul
from algorithm.serving.metrics import PREDICTION_BATCH_TEXTS, PREDICTIONS
from algorithm.serving.model_repository import model_repository
from common import limits
from common import settings as common_settings
from common.coalescing import BatchPrediction, Prediction, PredictionCoalescer


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


def predict(*, text: object, model_id: str = "") -> Prediction:
    """Classify one text: {"label", "scores", "model_id"}.

    Texts that arrive at once share one call to the model (see coalescing.py), unless
    PREDICT_COALESCING is off.
    """
    return _predict_one(text=check_text(text), model_id=model_id)


def predict_batch(*, texts: object, model_id: str = "", field: str = "texts") -> BatchPrediction:
    """Classify many texts with one version: {"predictions": [{"label", "scores"}], "model_id"}.

    Each prediction's scores follow the model's class order. Messages name the texts by
    field, the caller's name for them.
    """
    if not isinstance(texts, list) or not texts:
        raise InvalidArgument(f"{field} must be a non-empty list of strings.")
    if len(texts) > limits.MAX_BATCH_TEXTS:
        raise InvalidArgument(
            f"{field} has {len(texts)} items; the limit is {limits.MAX_BATCH_TEXTS} per call."
        )
    checked = [check_text(text, f"{field}[{index}]") for index, text in enumerate(texts)]
    model = model_repository.get(model_id)
    predictions = model.predict(checked)
    PREDICTIONS.labels(model.model_id).inc(len(checked))
    PREDICTION_BATCH_TEXTS.observe(len(checked))
    return {
        "predictions": [{"label": label, "scores": scores} for label, scores in predictions],
        "model_id": model.model_id,
    }


def _predict_alone(*, text: str, model_id: str) -> Prediction:
    reply = predict_batch(texts=[text], model_id=model_id)
    return {**reply["predictions"][0], "model_id": reply["model_id"]}


_predict_one = (
    PredictionCoalescer(
        lambda texts, model_id: predict_batch(texts=texts, model_id=model_id),
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
