"""The Flask HTTP shim for older clients: the same service functions, over plain JSON.

Served by gunicorn:
``gunicorn -c algorithm/serving/gunicorn.conf.py algorithm.serving.http_shim:app``.
"""

import logging
import time
import uuid
from typing import Any

from flask import Flask, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from algorithm.domain.errors import InvalidArgument, ServiceError
from algorithm.serving import inference_http
from algorithm.serving.error_status import http_status
from algorithm.serving.service_auth import REFUSAL, ServiceCredential
from algorithm.serving.services import info, monitoring, prediction, training
from common import metrics
from common.limits import MAX_SHIM_BODY_BYTES
from common.logs import clean_id, correlation_id
from common.proto_json import as_json

logger = logging.getLogger(__name__)

_credential = ServiceCredential()
# Like the gRPC server, the shim answers only callers holding the service's credential; its
# health check stays open.
OPEN_PATHS = frozenset({"/health"})


class _JSONProvider(DefaultJSONProvider):
    # Texts and labels as they are, keys in the order the service put them.
    ensure_ascii = False
    sort_keys = False


app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = MAX_SHIM_BODY_BYTES
app.json = _JSONProvider(app)
app.register_blueprint(inference_http.blueprint)


def _json_body(*, required: bool) -> dict[str, Any]:
    if not request.get_data(cache=True) and not required:
        return {}
    body = inference_http.request_json()
    if not isinstance(body, dict):
        raise InvalidArgument("The body must be a JSON object.")
    return body


@app.before_request
def _correlate_and_authenticate():
    g.started = time.perf_counter()
    # Each request sets it afresh: gunicorn threads are reused.
    correlation_id.set(clean_id(request.headers.get("X-Request-ID")) or uuid.uuid4().hex[:16])
    open_path = request.path in OPEN_PATHS or inference_http.OPEN_PATH.match(request.path)
    if not open_path and not _credential.admits(request.headers.get("Authorization")):
        return jsonify(message=REFUSAL, extra={}), 401, {"WWW-Authenticate": "Bearer"}
    return None


@app.after_request
def _count(response):
    metrics.record_http_request(
        request.url_rule.rule if request.url_rule else metrics.UNMATCHED_ROUTE,
        request.method,
        response.status_code,
        time.perf_counter() - g.started,
    )
    return response


@app.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    return jsonify(message=error.message, extra={}), http_status(error)


@app.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return jsonify(message=error.description, extra={}), error.code


@app.errorhandler(Exception)
def _unexpected_error(error: Exception):
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    return jsonify(
        message="Internal error; the server log has the details.",
        extra={"request_id": correlation_id.get()},
    ), 500


@app.post("/train")
def train():
    body = _json_body(required=False)
    job = training.train(
        algorithm=body.get("algorithm") or "",
        parameters=body.get("parameters"),
        request_id=body.get("request_id") or "",
    )
    return jsonify(as_json(job)), 202


@app.get("/jobs/<job_id>")
def get_job(job_id: str):
    return jsonify(as_json(training.get_job(job_id=job_id)))


@app.post("/predict")
def predict():
    """{"text", "reference"} or {"texts", "references"}, and "model_id" and "explain"; the
    request id the caller sent (X-Request-ID) goes to the prediction log with each prediction."""
    body = _json_body(required=True)
    model_id = body.get("model_id") or ""
    if not isinstance(model_id, str):
        raise InvalidArgument("model_id must be a string.")
    request_id = clean_id(request.headers.get("X-Request-ID")) or ""
    if "texts" in body:
        texts = body["texts"]
        # The request's id for each of its texts (predict_batch refuses texts not a list).
        request_ids = [request_id] * len(texts) if request_id and isinstance(texts, list) else []
        reply = prediction.predict_batch(
            texts=texts,
            model_id=model_id,
            references=body.get("references") or [],
            request_ids=request_ids,
            explain=body.get("explain", False),
        )
        return jsonify(reply)
    if "text" not in body:
        raise InvalidArgument('The body needs "text" (one string) or "texts" (a list).')
    answer = prediction.predict(
        text=body["text"],
        model_id=model_id,
        reference=body.get("reference") or "",
        request_id=request_id,
        explain=body.get("explain", False),
    )
    return jsonify(answer)


@app.post("/schedule")
def schedule():
    """The cyclic-metric service's endpoint: set (or replace) a model's cron schedule."""
    body = _json_body(required=True)
    schedule = monitoring.schedule_upsert(
        model_id=body.get("model_id"), cron_expression=body.get("cron_expression")
    )
    return jsonify(as_json(schedule)), 201


@app.get("/results/<model_id>")
def results(model_id: str):
    """The cyclic-metric service's endpoint: the accuracy last computed for a model."""
    return jsonify(as_json(monitoring.accuracy_get(model_id=model_id)))


@app.get("/algorithms")
def list_algorithms():
    return jsonify([as_json(algorithm) for algorithm in training.list_algorithms().algorithms])


@app.get("/health")
def health():
    state = info.health()
    return jsonify(state), 200 if state["status"] == "ok" else 503
