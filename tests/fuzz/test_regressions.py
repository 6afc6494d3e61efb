"""Defects the fuzzers found, each pinned by the smallest request that showed it."""

import pytest


@pytest.fixture
def openapi(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_model_list_documents_its_404_past_the_last_page(openapi):
    # GET /api/models/?page=2 with a single page of models answers 404 "There is no page 2."
    responses = openapi["paths"]["/api/models/"]["get"]["responses"]
    assert set(responses) == {"200", "400", "401", "404", "503"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/predict/", {"text": "hi", "model_id": 5}, "model_id"),
        ("/api/train/", {"request_id": False}, "request_id"),
        ("/api/schedules/", {"model_id": 1, "cron_expression": "* * * * *"}, "model_id"),
        ("/api/results/", {"model_id": True, "y_true": [1], "y_pred": [1]}, "model_id"),
    ],
)
def test_a_number_or_a_boolean_is_no_uuid(api_client, path, body, field):
    # DRF's UUIDField reads 5 as UUID(int=5), and false as the all-zero UUID.
    response = api_client.post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {field: ["Must be a valid UUID."]}
