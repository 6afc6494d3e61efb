"""PredictionService: classify texts with a loaded model version. Every prediction gets its
id, and the prediction log (algorithm/domain/prediction_log.py) the record of it that its
policy keeps: every entry point (gRPC Predict and PredictBatch, the inference protocol, the
shim) comes through predict_batch's scoring, so each prediction is recorded once."""

import time
import uuid
from collections.abc import Sequence

from prometheus_client import multiprocess

from algorithm import settings
from algorithm.domain import explanations
from algorithm.domain.errors import InvalidArgument, Unavailable, check_no_nul
from algorithm.domain.prediction_log import Policy
from algorithm.domain.prediction_log_writer import PredictionLog
from algorithm.serving import drift_metrics, traffic
from algorithm.serving.metrics import (
    PREDICTION_BATCH_TEXTS,
    PREDICTION_ERRORS,
    PREDICTION_LOG_RECORDS,
    PREDICTION_SECONDS,
    PREDICTIONS,
)
from algorithm.serving.model_repository import model_repository
from common import limits
from common import settings as common_settings
from common.coalescing import (
    INTERNAL,
    BatchPrediction,
    Origin,
    Prediction,
    PredictionCoalescer,
    Scored,
)
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


def _check_explain(explain: object) -> bool:
    if not isinstance(explain, bool):
        raise InvalidArgument("explain must be true or false.")
    return explain


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
    explain: object = False,
) -> Prediction:
    """Classify one text: {"label", "scores", "prediction_id", "reference", "model_id"}, and
    "explanation" if explain.

    Texts that arrive at once share one call to the model (see coalescing.py), unless
    PREDICT_COALESCING is off; each keeps its own origin (reference, caller, request id) in
    the prediction log. A text to explain is scored alone: its explanation costs more than a
    batch's share, and a batch's texts are answered alike.
    """
    checked = check_text(text)
    origin = _origin(reference, caller, request_id)
    # Routed before coalescing: texts for the canary and for the champion gather apart.
    model_id = model_id or traffic.route(model_repository, origin.reference, origin.caller)
    if _check_explain(explain):
        return _predict_alone(text=checked, model_id=model_id, origin=origin, explain=True)
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
    explain: object = False,
    one_version: bool = False,
) -> BatchPrediction:
    """Classify many texts:
    {"predictions": [{"label", "scores", "prediction_id", "reference", "model_id"}], "model_id"},
    each prediction with its "explanation" if explain (at most MAX_EXPLAIN_TEXTS texts then).

    Texts naming no version are routed one by one, as predict routes one text, so a canary
    sees the same reference alike however it is sent; one_version routes the whole call by
    its first reference (else caller) instead, for answers that name one version only.

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
    explained = _check_explain(explain)
    if explained and len(texts) > limits.MAX_EXPLAIN_TEXTS:
        raise InvalidArgument(
            f"{field} has {len(texts)} items; explain takes at most {limits.MAX_EXPLAIN_TEXTS} "
            "per call: send the others in further calls, or without explain."
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
    if model_id:
        return _score(checked, model_id, origins, explained)
    if one_version:
        return _score(checked, traffic.route_batch(model_repository, origins), origins, explained)
    return _score_routed(checked, origins, explained)


def _score_routed(texts: list[str], origins: list[Origin], explain: bool) -> BatchPrediction:
    """Texts naming no version, each routed by its own reference (else caller), as if sent
    alone: those for the canary and those for the active version are scored apart and
    answered in order, each prediction naming its version; the answer's model_id is the
    active version's, unless every text went to the canary."""
    if model_repository.traffic.canary is None:
        # No split: a thousand texts take no thousand routing calls.
        return _score(texts, "", origins, explain)
    routes = [traffic.route(model_repository, o.reference, o.caller) for o in origins]
    if len(set(routes)) == 1:
        return _score(texts, routes[0], origins, explain)
    scored: list[Scored | None] = [None] * len(texts)
    answered_by = ""
    for version in sorted(set(routes)):
        picked = [index for index, route in enumerate(routes) if route == version]
        reply = _score([texts[i] for i in picked], version, [origins[i] for i in picked], explain)
        for index, one in zip(picked, reply["predictions"], strict=True):
            scored[index] = one
        answered_by = answered_by if version else reply["model_id"]
    return {"predictions": [one for one in scored if one is not None], "model_id": answered_by}


def _score(
    texts: list[str], model_id: str, origins: list[Origin], explain: bool = False
) -> BatchPrediction:
    """Checked texts scored in one call to the model, each prediction given its id and handed
    to the prediction log, and explained if explain."""
    model = model_repository.get(model_id)
    token_counts: list[tuple[int, int]] = []
    counted = model_repository.traffic.canary is not None
    started = time.perf_counter()
    try:
        predictions = model.predict(texts, token_counts)
    except Exception:
        PREDICTION_ERRORS.labels(model.model_id).inc(len(texts))
        if counted:
            traffic.counts.add(model.model_id, len(texts), len(texts))
        raise
    PREDICTION_SECONDS.labels(model.model_id).observe(time.perf_counter() - started)
    if counted:
        traffic.counts.add(model.model_id, len(texts))
    prediction_ids = [str(uuid.uuid4()) for _ in texts]
    PREDICTIONS.labels(model.model_id).inc(len(texts))
    PREDICTION_BATCH_TEXTS.observe(len(texts))
    drift_metrics.record(model.model_id, texts, predictions, token_counts)
    _log(model.model_id, texts, predictions, prediction_ids, origins)
    scored: list[Scored] = [
        {
            "label": label,
            "scores": scores,
            "prediction_id": prediction_id,
            "reference": origin.reference,
            "model_id": model.model_id,
        }
        for (label, scores), prediction_id, origin in zip(
            predictions, prediction_ids, origins, strict=True
        )
    ]
    if explain:
        for one, explanation in zip(
            scored, explanations.explain(model, texts, predictions), strict=True
        ):
            one["explanation"] = dict(explanation)
    return {"predictions": scored, "model_id": model.model_id}


def _log(
    model_id: str,
    texts: list[str],
    predictions: list[tuple[str, dict[str, float]]],
    prediction_ids: list[str],
    origins: list[Origin],
) -> None:
    """Hand the predictions to the prediction log; those the shadow takes, once it has
    scored them, with its labels."""
    sampled = shadow.sample(model_id, len(texts))
    if sampled:
        everything = len(sampled) == len(texts)
        picked = texts, predictions, prediction_ids, origins
        if not everything:
            picked = (
                [texts[i] for i in sampled],
                [predictions[i] for i in sampled],
                [prediction_ids[i] for i in sampled],
                [origins[i] for i in sampled],
            )

        def record(shadow_id: str, shadow_labels: list[str]) -> None:
            if prediction_log is not None:
                prediction_log.record(model_id, *picked, shadow_id, shadow_labels)

        if shadow.offer(model_id, picked[0], [label for label, _ in picked[1]], record):
            if everything:
                return
            taken = set(sampled)
            rest = [i for i in range(len(texts)) if i not in taken]
            texts, predictions = [texts[i] for i in rest], [predictions[i] for i in rest]
            prediction_ids, origins = [prediction_ids[i] for i in rest], [origins[i] for i in rest]
    if prediction_log is not None and texts:
        prediction_log.record(model_id, texts, predictions, prediction_ids, origins)


def _predict_alone(
    *, text: str, model_id: str, origin: Origin = INTERNAL, explain: bool = False
) -> Prediction:
    reply = _score([text], model_id, [origin], explain)
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


shadow = traffic.Shadow(
    model_repository,
    queue_size=settings.SHADOW_QUEUE,
    texts_per_second=settings.SHADOW_MAX_TEXTS_PER_SECOND,
)


def start_traffic() -> None:
    """Start this process's traffic threads (the shadow's scoring, the counts' flushing):
    each serving process does as it starts, as with start_prediction_log."""
    shadow.start()
    traffic.counts.start()


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
