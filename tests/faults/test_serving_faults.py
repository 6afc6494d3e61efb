"""Serving under faults: the algorithm server, PostgreSQL or Redis down, and back.

Web answers a quick 503 with a message for what needs the missing part, keeps predicting
from the loaded model for everything else, and recovers by itself, with no process
restarted. (tests/processes/test_web_to_algorithm.py covers an algorithm service that was
never up.)
"""

import time
import uuid

import grpc
import pytest
import requests

from algorithm.domain import ml
from algorithm.domain.store import ModelStore
from algorithm.v1 import prediction_pb2, training_pb2
from tests import support
from tests.faults.conftest import seconds_since

pytestmark = pytest.mark.slow

SPAM = "WINNER!! You have won a free prize, call 09061701461 now to claim"
DATABASE_DOWN = {"message": "The database is unavailable; try again shortly.", "extra": {}}


@pytest.fixture(scope="module")
def served_model(stack, sms_rows) -> str:
    """The SMS data in the table, and a model trained on it published, activated and served,
    as a worker would have done."""
    rows = sms_rows
    stack.replace_data(rows)
    parameters = ml.resolve_parameters(ml.DEFAULT_ALGORITHM, {})
    trained = ml.train(
        [text for text, _ in rows], [label for _, label in rows], ml.DEFAULT_ALGORITHM, parameters
    )
    model_id = str(uuid.uuid4())
    store = ModelStore(stack.models)
    metadata = {"algorithm": ml.DEFAULT_ALGORITHM, "parameters": parameters}
    metadata.update(labels=trained.labels, metrics=trained.metrics, row_count=len(rows))
    store.publish(model_id, trained.vectorizer, trained.classifier, metadata)
    store.activate(model_id)
    support.wait_until(lambda: rest_predict(stack).get("model_id") == model_id, 10, "serving")
    return model_id


def rest_predict(stack, timeout: float = 10) -> dict:
    response = requests.post(
        f"{stack.web}/api/predict/", json={"text": SPAM}, headers=stack.headers, timeout=timeout
    )
    return {"status": response.status_code, **response.json()} if response.content else {}


def grpc_predict(stack) -> str:
    return stack.prediction.Predict(prediction_pb2.PredictRequest(text=SPAM), timeout=5).label


def get(stack, path: str) -> requests.Response:
    return requests.get(f"{stack.web}{path}", headers=stack.headers, timeout=10)


def test_algorithm_server_down_is_a_quick_503_and_recovers_by_itself(stack, served_model):
    stack.stop("algorithm_grpc")
    try:
        for _ in range(3):
            started = time.monotonic()
            answer = rest_predict(stack)
            assert time.monotonic() - started < 2
            assert answer == {
                "status": 503,
                "message": "The algorithm service is unavailable; try again shortly.",
                "extra": {},
            }
    finally:
        stack.start("algorithm_grpc")
    back = time.monotonic()
    # Each of web's processes reconnects on its own schedule: recovered is every one answering.
    support.wait_until(
        lambda: all(rest_predict(stack).get("label") == "spam" for _ in range(8)),
        15,
        "predictions again",
    )
    print(f"\nalgorithm server back: web predicts again after {seconds_since(back)} s")


def test_postgres_down_data_is_503_and_predictions_keep_working(stack, served_model):
    assert get(stack, "/api/data/").status_code == 200
    assert rest_predict(stack)["status"] == 200
    stack.servers.stop_postgres()
    try:
        for method, path, body in (
            ("get", "/api/data/", None),
            ("post", "/api/data/", {"text": "hello", "label": "ham"}),
            ("get", "/api/data/1/", None),
            ("delete", "/api/data/1/", None),
        ):
            started = time.monotonic()
            response = requests.request(
                method, f"{stack.web}{path}", json=body, headers=stack.headers, timeout=10
            )
            assert time.monotonic() - started < 5
            assert (response.status_code, response.json()) == (503, DATABASE_DOWN), path
        assert get(stack, "/api/health/").status_code == 503
        # Predictions need no database: REST and gRPC answer from the loaded model.
        for _ in range(5):
            answer = rest_predict(stack)
            assert (answer["status"], answer.get("label")) == (200, "spam"), answer
            assert grpc_predict(stack) == "spam"
        # A token this process has not seen cannot be checked: 503, neither 401 nor 500.
        response = requests.post(
            f"{stack.web}/api/predict/",
            json={"text": SPAM},
            headers={"Authorization": "Token never-seen-before"},
            timeout=10,
        )
        assert (response.status_code, response.json()) == (503, DATABASE_DOWN)
        # What needs the database says so, over gRPC too.
        with pytest.raises(grpc.RpcError) as raised:
            stack.training.GetJob(
                training_pb2.GetJobRequest(job_id="00000000-0000-4000-8000-000000000002"),
                timeout=10,
            )
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        stack.servers.start_postgres()
    back = time.monotonic()
    support.wait_until(
        lambda: get(stack, "/api/data/").status_code == 200, 30, "data answering again"
    )
    recovered = seconds_since(back)
    response = requests.post(
        f"{stack.web}/api/data/",
        json={"text": "back again", "label": "ham"},
        headers=stack.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    # A token web has not seen yet is checked on a connection made since the restart.
    made = requests.post(
        f"{stack.web}/api/tokens/",
        json={"user": "after-restart", "scopes": ["predict"]},
        headers=stack.headers,
        timeout=10,
    )
    assert made.status_code == 201, made.text
    answer = requests.post(
        f"{stack.web}/api/predict/",
        json={"text": SPAM},
        headers={"Authorization": f"Token {made.json()['key']}"},
        timeout=10,
    )
    assert (answer.status_code, answer.json().get("label")) == (200, "spam"), answer.text
    print(f"\nPostgreSQL back: web's data endpoints answer again after {recovered} s")


def test_redis_down_training_is_refused_with_a_message_and_predictions_keep_working(
    stack, served_model
):
    stack.servers.stop_redis()
    try:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            stack.training.Train(training_pb2.TrainRequest(), timeout=10)
        refused_in = seconds_since(started)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert raised.value.details() == (
            "The job queue (Redis) is unavailable; nothing was queued. Try again shortly."
        )
        response = requests.post(f"{stack.web}/api/train/", headers=stack.headers, timeout=10)
        assert response.status_code == 503
        # The service's own message, not the one for a service web cannot reach.
        assert response.json()["message"] == raised.value.details()
        for _ in range(5):
            assert rest_predict(stack).get("label") == "spam"
            assert grpc_predict(stack) == "spam"
    finally:
        stack.servers.start_redis()
    back = time.monotonic()

    def accepted():
        response = requests.post(f"{stack.web}/api/train/", headers=stack.headers, timeout=10)
        return response.json()["job_id"] if response.status_code == 202 else None

    job_id = support.wait_until(accepted, 30, "training being accepted again", interval=0.2)
    accepted_after = seconds_since(back)
    job = stack.wait_for_end(job_id)
    print(
        f"\nRedis down: Train refused in {refused_in} s; back: training accepted again after "
        f"{accepted_after} s, the job {job['state']} after {seconds_since(back)} s"
    )
    assert job["state"] == "succeeded", job["error"]
