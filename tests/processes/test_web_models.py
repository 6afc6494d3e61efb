"""The REST model registry, evaluations and metric records, through web to the real services."""

import uuid

import pytest
import requests

from tests import support

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def turkish_rows():
    return [(row["text"], row["label"]) for row in support.read_tsv("confirmation_tr.tsv")]


def wait_for_job(web_client, job_id: str) -> dict:
    def ended():
        job = web_client.get(f"/api/jobs/{job_id}/").json()
        return job if job["state"] in ("succeeded", "failed") else None

    return support.wait_until(ended, 120, f"job {job_id} ending", interval=0.3)


def test_models_are_listed_newest_first_with_page_links(
    web_client, algorithm_services, turkish_rows
):
    published = [algorithm_services.publish_model(turkish_rows, activate=False) for _ in range(2)]
    response = web_client.get("/api/models/?page_size=1")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] >= 2
    assert [m["model_id"] for m in body["results"]] == [published[1]]
    assert body["previous"] is None
    assert body["next"] == "http://testserver/api/models/?page=2&page_size=1"
    second = web_client.get(body["next"]).json()
    assert [m["model_id"] for m in second["results"]] == [published[0]]
    assert web_client.get("/api/models/?page=9999").status_code == 404
    response = web_client.get("/api/models/?page_size=0")
    assert response.status_code == 400
    assert "page_size" in response.json()["extra"]["fields"]


def test_get_activate_and_delete_over_rest(web_client, algorithm_services, turkish_rows):
    keep = algorithm_services.publish_model(turkish_rows, activate=False)
    other = algorithm_services.publish_model(turkish_rows, activate=False)
    model = web_client.get(f"/api/models/{keep}/").json()
    assert (model["model_id"], model["algorithm"], model["active"]) == (keep, "linear_svm", False)
    assert model["metrics"]["test_rows"] == 3
    # Never served, and published without a reference profile: no drift, no baseline.
    assert model["drift"]["predictions"] == 0
    assert model["drift"]["baseline"] is None
    assert model["drift"]["label_psi"] is None

    response = web_client.post(f"/api/models/{keep}/activate/")
    assert response.status_code == 200
    assert response.json()["active"] is True
    support.wait_until(
        lambda: (
            web_client.post("/api/predict/", {"text": "evet"}, format="json").json()["model_id"]
            == keep
        ),
        1,
        "the activated model being served",
        interval=0.05,
    )

    served = web_client.post(
        "/api/predict/", {"texts": ["evet", "hayır", "belki de"]}, format="json"
    ).json()
    drift = web_client.get(f"/api/models/{keep}/").json()["drift"]
    assert drift["predictions"] >= 4  # the texts above and those that waited for the version
    labels = [prediction["label"] for prediction in served]
    assert all(drift["label_counts"][label] >= labels.count(label) for label in labels)
    assert drift["mean_top_probability"] > 0
    assert drift["mean_text_chars"] > 0
    assert (drift["baseline"], drift["label_psi"], drift["top_probability_delta"]) == (None,) * 3

    response = web_client.delete(f"/api/models/{keep}/")
    assert response.status_code == 409
    assert response.json() == {
        "message": f"Model {keep} is the active version: activate another version first, "
        "then delete this one.",
        "extra": {},
    }
    assert web_client.delete(f"/api/models/{other}/").status_code == 204
    assert web_client.get(f"/api/models/{other}/").status_code == 404
    assert web_client.get("/api/models/not-a-uuid/").status_code == 400
    missing = uuid.uuid4()
    assert web_client.post(f"/api/models/{missing}/activate/").json() == {
        "message": f"Model {missing} does not exist.",
        "extra": {},
    }


def test_evaluate_read_list_and_delete_a_metric_record(web_client, served_model_id):
    rows = [
        {"text": "Congratulations! You won a free holiday, call now", "label": "spam"},
        {"text": "Are you home for dinner?", "label": "ham"},
    ]
    response = web_client.post(
        f"/api/models/{served_model_id}/evaluate/", {"rows": rows}, format="json"
    )
    assert response.status_code == 202, response.json()
    record = response.json()
    assert response["Location"] == f"/api/metrics/{record['metric_id']}/"
    assert (record["state"], record["source"], record["metrics"]) == ("queued", "upload", None)
    job = wait_for_job(web_client, record["job_id"])
    assert (job["kind"], job["state"], job["metric_id"]) == (
        "evaluate",
        "succeeded",
        record["metric_id"],
    )
    done = web_client.get(f"/api/metrics/{record['metric_id']}/").json()
    assert done["row_count"] == 2
    assert done["metrics"]["accuracy"] == 1.0
    assert done["metrics"]["confusion_matrix"] == {
        "labels": ["ham", "spam"],
        "rows": [[1, 0], [0, 1]],
    }
    listed = web_client.get(f"/api/models/{served_model_id}/metrics/").json()
    assert record["metric_id"] in [r["metric_id"] for r in listed]
    assert web_client.delete(f"/api/metrics/{record['metric_id']}/").status_code == 204
    assert web_client.get(f"/api/metrics/{record['metric_id']}/").status_code == 404


def test_evaluate_rejects_bad_rows_with_field_errors(web_client, served_model_id):
    response = web_client.post(
        f"/api/models/{served_model_id}/evaluate/",
        {"rows": [{"text": "ok", "label": "ham"}, {"text": 5, "label": ""}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {
        "rows[1].text": ["Not a valid string."],
        "rows[1].label": ["This field may not be blank."],
    }


def test_retrain_makes_a_new_version_with_the_same_algorithm(
    web_client, algorithm_services, sms_rows, served_model_id
):
    algorithm_services.replace_data(sms_rows)
    response = web_client.post(
        f"/api/models/{served_model_id}/retrain/", {"parameters": {"C": 0.5}}, format="json"
    )
    assert response.status_code == 202
    job = response.json()
    assert (job["algorithm"], job["parameters"]) == ("linear_svm", {"C": 0.5, "ngram_max": 1})
    done = wait_for_job(web_client, job["job_id"])
    assert done["state"] == "succeeded"
    assert done["model_id"] != served_model_id
    assert web_client.get(f"/api/models/{done['model_id']}/").json()["job_id"] == job["job_id"]


def test_activating_a_version_that_would_be_refused_is_a_409(
    web_client, algorithm_services, turkish_rows
):
    damaged = algorithm_services.publish_model(turkish_rows, activate=False)
    active_before = algorithm_services.store.active_id()
    with (algorithm_services.store.root / damaged / "model.pickle").open("ab") as stream:
        stream.write(b"x")

    response = web_client.post(f"/api/models/{damaged}/activate/")

    assert response.status_code == 409
    assert response.json()["message"] == (
        f"Model {damaged} failed its integrity checks and cannot be activated: "
        f"checksum of model.pickle of {damaged} does not match."
    )
    assert algorithm_services.store.active_id() == active_before


def test_the_model_detail_and_the_metrics_give_live_accuracy_from_feedback(
    web_client, algorithm_services, turkish_rows
):
    model_id = algorithm_services.publish_model(turkish_rows, activate=False)
    support.give_feedback(algorithm_services.env, model_id, [("a", "a"), ("a", "b"), ("b", "b")])

    body = web_client.get(f"/api/models/{model_id}/").json()

    window = {
        "feedback_count": 3,
        "correct_count": 2,
        "accuracy": 2 / 3,
        "labels": [
            {
                "label": "a",
                "precision": 0.5,
                "recall": 1.0,
                "support": 1,
                "predicted_count": 2,
                "correct_count": 1,
            },
            {
                "label": "b",
                "precision": 1.0,
                "recall": 0.5,
                "support": 2,
                "predicted_count": 1,
                "correct_count": 1,
            },
        ],
    }
    assert body["live_accuracy_error"] is None
    assert body["live_accuracy"] == {
        "last_rows": {"size": 1000, **window},
        "last_days": {"size": 7, **window},
        "holdout_accuracy": body["metrics"]["accuracy"],
    }
    metrics = requests.get(
        f"http://127.0.0.1:{algorithm_services.env['ALGORITHM_METRICS_PORT']}/metrics", timeout=5
    ).text
    assert f'textclf_live_accuracy{{model_id="{model_id}",window="days"}} 0.6666666666666666' in (
        metrics
    )
    assert f'textclf_live_feedback{{model_id="{model_id}",window="rows"}} 3.0' in metrics
