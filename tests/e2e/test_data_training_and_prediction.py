"""A user loads data, trains and predicts over REST, gRPC and the Flask shim, then rolls the
served model back and forth under load."""

import threading
import time

import grpc
import pytest
import requests

from algorithm.v1 import prediction_pb2, prediction_pb2_grpc, training_pb2, training_pb2_grpc
from tests import support
from tests.e2e.conftest import SAMPLE_TEXTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stubs(stack):
    channel = support.service_channel(stack["grpc"])
    yield (
        prediction_pb2_grpc.PredictionServiceStub(channel),
        training_pb2_grpc.TrainingServiceStub(channel),
    )
    channel.close()


def wait_for_job(stack, job_id: str, timeout: float = 180) -> dict:
    def ended():
        response = requests.get(
            f"{stack['web']}/api/jobs/{job_id}/", headers=stack["headers"], timeout=5
        )
        assert response.status_code == 200, response.text
        job = response.json()
        return job if job["state"] in ("succeeded", "failed") else None

    return support.wait_until(ended, timeout, f"job {job_id} ending", interval=0.5)


def test_user_loads_data_trains_and_predicts_over_every_interface(stack, stubs):
    web, headers = stack["web"], stack["headers"]
    prediction_stub, training_stub = stubs

    # Before the first model: a clear 409 / FAILED_PRECONDITION everywhere.
    response = requests.post(f"{web}/api/predict/", json={"text": "hi"}, headers=headers, timeout=5)
    assert response.status_code == 409
    assert "No model has been trained yet" in response.json()["message"]
    response = support.shim_session().post(
        f"{stack['shim']}/predict", json={"text": "hi"}, timeout=5
    )
    assert response.status_code == 409
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.Predict(prediction_pb2.PredictRequest(text="hi"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # Load the SMS Spam Collection through the public API.
    rows = [
        {"text": row["text"], "label": row["label"]} for row in support.read_tsv("sms_spam.tsv")
    ]
    response = requests.post(f"{web}/api/data/", json=rows, headers=headers, timeout=60)
    assert response.status_code == 201, response.text[:500]
    response = requests.get(f"{web}/api/data/?label=spam", headers=headers, timeout=5)
    assert response.json()["count"] == 747

    # Train through REST and follow the job to its end.
    started = time.monotonic()
    response = requests.post(f"{web}/api/train/", headers=headers, timeout=5)
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 5
    job = response.json()
    assert job["state"] in ("queued", "running")
    assert response.headers["Location"] == f"/api/jobs/{job['job_id']}/"
    job = wait_for_job(stack, job["job_id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["rows_read"] == job["rows_total"] == 5574
    assert job["progress"] == 1
    assert job["metrics"]["accuracy"] >= 0.95
    assert set(job["metrics"]["per_label"]) == {"ham", "spam"}
    model_id = job["model_id"]
    assert (stack["models"] / model_id / "model.pickle").is_file()
    assert (stack["models"] / model_id / "vectorizer.pickle").is_file()

    # REST, gRPC and the Flask shim agree, naming the same model.
    for text in SAMPLE_TEXTS:
        answers = [
            support.wait_until(
                lambda text=text: _predict_rest(web, headers, text, model_id),
                5,
                "the new model being served",
            )
        ]
        shim = (
            support.shim_session()
            .post(f"{stack['shim']}/predict", json={"text": text}, timeout=5)
            .json()
        )
        answers.append(shim)
        reply = prediction_stub.Predict(prediction_pb2.PredictRequest(text=text), timeout=5)
        answers.append(
            {"label": reply.label, "scores": dict(reply.scores), "model_id": reply.model_id}
        )
        for answer in answers:
            assert answer["model_id"] == model_id
            assert answer["label"] == answers[0]["label"]
            assert answer["label"] == max(answer["scores"], key=answer["scores"].get)
            assert sum(answer["scores"].values()) == pytest.approx(1)
            assert answer["scores"] == pytest.approx(answers[0]["scores"])
    assert _predict_rest(web, headers, SAMPLE_TEXTS[0], model_id)["label"] == "spam"
    assert _predict_rest(web, headers, SAMPLE_TEXTS[1], model_id)["label"] == "ham"

    # A batch over REST answers a list in request order.
    response = requests.post(
        f"{web}/api/predict/", json={"texts": SAMPLE_TEXTS}, headers=headers, timeout=5
    )
    assert [p["label"] for p in response.json()] == ["spam", "ham", "spam", "ham"]

    # A second training, started over gRPC and watched to its end, is served without a restart.
    reply = training_stub.Train(
        training_pb2.TrainRequest(algorithm="logistic_regression"), timeout=5
    )
    states = [
        update.job.state
        for update in training_stub.WatchJob(
            training_pb2.WatchJobRequest(job_id=reply.job.job_id), timeout=180
        )
    ]
    assert states[-1] == training_pb2.JOB_STATE_SUCCEEDED
    second = requests.get(f"{web}/api/jobs/{reply.job.job_id}/", headers=headers, timeout=5).json()
    assert second["model_id"] != model_id
    served = support.wait_until(
        lambda: _predict_rest(web, headers, SAMPLE_TEXTS[0], second["model_id"]),
        2,
        "the second model being served",
    )
    assert served["label"] == "spam"


def _predict_rest(base: str, headers: dict, text: str, expected_model: str) -> dict | None:
    response = requests.post(
        f"{base}/api/predict/", json={"text": text}, headers=headers, timeout=5
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body if body["model_id"] == expected_model else None


def test_rest_rollback_under_concurrent_predictions_fails_no_request(stack):
    web, headers = stack["web"], stack["headers"]
    models = requests.get(f"{web}/api/models/", headers=headers, timeout=5).json()["results"]
    assert len(models) >= 2, "the earlier tests train several versions"
    first, second = models[0]["model_id"], models[1]["model_id"]
    failures, answered_by = [], set()
    stop = threading.Event()

    def predict_until_stopped():
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(
                    f"{web}/api/predict/", json={"text": "win a prize"}, headers=headers, timeout=10
                )
                if response.status_code == 200:
                    answered_by.add(response.json()["model_id"])
                else:
                    failures.append((response.status_code, response.text[:200]))

    threads = [threading.Thread(target=predict_until_stopped) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for model_id in (second, first, second):
            response = requests.post(
                f"{web}/api/models/{model_id}/activate/", headers=headers, timeout=10
            )
            assert response.status_code == 200, response.text
            activated = time.monotonic()
            support.wait_until(
                lambda model_id=model_id: _predict_rest(web, headers, "hi", model_id),
                1,
                f"{model_id} being served",
                interval=0.02,
            )
            assert time.monotonic() - activated < 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert {first, second} <= answered_by
