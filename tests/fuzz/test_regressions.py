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
