"""The Flask shim's plain HTTP endpoints, against the real gunicorn process."""

import uuid

import pytest

from tests import support

pytestmark = pytest.mark.slow


def test_predict_one_text_and_a_list(algorithm_services, served_model_id):
    url = f"{algorithm_services.http_url}/predict"
    body = {
        "text": "You have WON a guaranteed cash prize, call now",
        "model_id": served_model_id,
        "reference": "ticket-1",
    }
    response = algorithm_services.shim.post(url, json=body, timeout=5)
    assert response.status_code == 200
    one = response.json()
    assert set(one) == {"label", "scores", "prediction_id", "reference", "model_id"}
    assert (one["label"], one["model_id"], one["reference"]) == (
        "spam",
        served_model_id,
        "ticket-1",
    )

    body = {"texts": ["see you tomorrow", body["text"]], "model_id": served_model_id}
    response = algorithm_services.shim.post(url, json=body, timeout=5)
    assert response.status_code == 200
    batch = response.json()
    assert batch["model_id"] == served_model_id
    assert [(p["label"], p["reference"]) for p in batch["predictions"]] == [
        ("ham", ""),
        ("spam", ""),
    ]
    assert batch["predictions"][1]["scores"] == pytest.approx(one["scores"])


@pytest.mark.parametrize(
    ("data", "headers", "status", "message"),
    [
        ("not json", {"Content-Type": "application/json"}, 400, "The body must be a JSON object."),
        ("[1, 2]", {"Content-Type": "application/json"}, 400, "The body must be a JSON object."),
        (
            "{}",
            {"Content-Type": "application/json"},
            400,
            'The body needs "text" (one string) or "texts" (a list).',
        ),
        ('{"text": 5}', {"Content-Type": "application/json"}, 400, "text must be a string."),
        (
            '{"texts": "abc"}',
            {"Content-Type": "application/json"},
            400,
            "texts must be a non-empty list of strings.",
        ),
        (
            '{"text": "hi", "model_id": 7}',
            {"Content-Type": "application/json"},
            400,
            "model_id must be a string.",
        ),
        ('{"text": "hi", "reference": 5}', {}, 400, "reference must be a string."),
        (
            '{"texts": ["hi", "yo"], "references": ["a"]}',
            {},
            400,
            "references has 1 items for 2 texts; send none, or one per text.",
        ),
    ],
)
def test_predict_rejects_bad_bodies(algorithm_services, data, headers, status, message):
    response = algorithm_services.shim.post(
        f"{algorithm_services.http_url}/predict", data=data, headers=headers, timeout=5
    )
    assert response.status_code == status
    assert response.json() == {"message": message, "extra": {}}


def test_oversized_body_is_413_with_json(algorithm_services):
    response = algorithm_services.shim.post(
        f"{algorithm_services.http_url}/predict",
        data=b'{"text": "' + b"a" * (33 << 20) + b'"}',
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert "message" in response.json()


def test_train_takes_no_input_and_answers_202_with_the_job(algorithm_services, sms_rows):
    algorithm_services.replace_data(sms_rows)
    response = algorithm_services.shim.post(f"{algorithm_services.http_url}/train", timeout=5)
    assert response.status_code == 202
    job = response.json()
    assert job["state"] == "queued"
    job_url = f"{algorithm_services.http_url}/jobs/{job['job_id']}"
    final = support.wait_until(
        lambda: (
            (j := algorithm_services.shim.get(job_url, timeout=5).json())["state"]
            in ("succeeded", "failed")
            and j
        ),
        120,
        "the job ending",
        interval=0.3,
    )
    assert final["state"] == "succeeded", final["error"]
    assert final["metrics"]["accuracy"] >= 0.95
    assert final["end_time"].endswith("+00:00")


def test_jobs_unknown_is_404_and_malformed_is_400(algorithm_services):
    missing = str(uuid.uuid4())
    response = algorithm_services.shim.get(
        f"{algorithm_services.http_url}/jobs/{missing}", timeout=5
    )
    assert (response.status_code, response.json()) == (
        404,
        {"message": f"Job {missing} does not exist.", "extra": {}},
    )
    response = algorithm_services.shim.get(f"{algorithm_services.http_url}/jobs/xyz", timeout=5)
    assert response.status_code == 400


def test_unknown_path_is_a_json_404(algorithm_services):
    response = algorithm_services.shim.get(f"{algorithm_services.http_url}/nope", timeout=5)
    assert response.status_code == 404
    assert set(response.json()) == {"message", "extra"}


def test_health_names_the_served_model(algorithm_services, active_model_id):
    def served():
        body = algorithm_services.shim.get(
            f"{algorithm_services.http_url}/health", timeout=5
        ).json()
        return body if body["model_id"] == active_model_id else None

    body = support.wait_until(served, 2, "the active model being served")
    assert body["status"] == "ok"
    assert body["model_refused"] is None
