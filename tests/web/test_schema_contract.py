"""The OpenAPI schema documents every endpoint of the contract, with its bodies."""

import re

import pytest

CONTRACT = {
    "/api/data/": {"get", "post"},
    "/api/data/{id}/": {"get", "put", "patch", "delete"},
    "/api/data/import/": {"post"},
    "/api/data/export/": {"get"},
    "/api/algorithms/": {"get"},
    "/api/train/": {"post"},
    "/api/jobs/{job_id}/": {"get"},
    "/api/predict/": {"post"},
    "/api/models/": {"get"},
    "/api/models/{model_id}/": {"get", "delete"},
    "/api/models/{model_id}/activate/": {"post"},
    "/api/models/{model_id}/retrain/": {"post"},
    "/api/models/{model_id}/evaluate/": {"post"},
    "/api/models/{model_id}/metrics/": {"get"},
    "/api/metrics/{metric_id}/": {"get", "delete"},
    "/api/schedules/": {"get", "post"},
    "/api/schedules/{model_id}/": {"get", "delete"},
    "/api/results/": {"post"},
    "/api/results/{model_id}/": {"get"},
    "/api/info/": {"get"},
    "/api/log/": {"get"},
    "/api/health/": {"get"},
    "/api/health/live/": {"get"},
    "/api/tokens/": {"get", "post"},
    "/api/tokens/{token_id}/": {"get", "delete"},
    "/api/predictions/": {"get", "delete"},
    "/api/predictions/export/": {"get"},
    "/api/review/": {"get"},
    "/api/review/lease/": {"post"},
    "/api/review/{item_id}/": {"post"},
    "/api/feedback/": {"get", "post"},
}
BODYLESS_POSTS = {"/api/models/{model_id}/activate/"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_every_contract_endpoint_and_method_is_documented(schema):
    for path, methods in CONTRACT.items():
        assert path in schema["paths"], f"{path} is missing from the schema"
        assert methods <= set(schema["paths"][path]), f"{path}: {schema['paths'][path].keys()}"


@pytest.mark.parametrize("path", sorted(CONTRACT))
def test_each_operation_documents_its_bodies_and_errors(schema, path):
    for method, operation in schema["paths"][path].items():
        if method not in ("get", "post", "put", "patch", "delete"):
            continue
        assert operation.get("summary"), f"{method} {path} has no summary"
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, f"{method} {path} documents no success response"
        for code in success:
            if code != "204":
                assert responses[code].get("content"), f"{method} {path} {code} has no body"
        if method in ("post", "put", "patch") and path not in BODYLESS_POSTS:
            assert operation.get("requestBody", {}).get("content"), f"{method} {path}: no body"
        if not path.startswith("/api/health/"):
            assert "401" in responses, f"{method} {path} does not document 401"
            assert "403" in responses, f"{method} {path} does not document 403"
            assert re.search(
                r"Needs a token with the `(read|predict|write|admin)` scope",
                operation["description"],
            ), f"{method} {path} does not name its scope"
