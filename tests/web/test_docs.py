"""/api/schema/ (OpenAPI 3) and /api/docs/ (Swagger UI served from local assets)."""

import re

import pytest
import yaml

from common import limits

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(anonymous_client) -> dict:
    response = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_openapi_3_titled_textclf_api(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "textclf API"


def test_schema_default_format_is_yaml_openapi_3(anonymous_client):
    response = anonymous_client.get("/api/schema/")

    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


def test_schema_documents_data_paths_and_token_auth(schema):
    assert set(schema["paths"]["/api/data/"]) == {"get", "post"}
    assert set(schema["paths"]["/api/data/{id}/"]) == {"get", "put", "patch", "delete"}
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Token <key>`. A token holds one or more scopes: "
        "`read`: read data, jobs, models, records, schedules and info; `predict`: ask for "
        "predictions; `write`: change data, train, evaluate, activate; implies read; `admin`: "
        "tokens, logs, deleting models; implies every scope. Each operation names the scope it "
        "needs; a token without it gets a 403.",
    }


def test_schema_documents_bulk_create_as_one_object_or_a_list(schema):
    create = schema["paths"]["/api/data/"]["post"]
    one_or_many = {"$ref": "#/components/schemas/DataOneOrMany"}

    assert create["requestBody"]["content"]["application/json"]["schema"] == one_or_many
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == one_or_many
    assert schema["components"]["schemas"]["DataOneOrMany"] == {
        "oneOf": [
            {"$ref": "#/components/schemas/Data"},
            {"type": "array", "items": {"$ref": "#/components/schemas/Data"}},
        ]
    }


def test_schema_documents_the_error_shape(schema):
    responses = schema["paths"]["/api/data/"]["post"]["responses"]

    def ref(code: str) -> str:
        return responses[code]["content"]["application/json"]["schema"]["$ref"]

    assert ref("400") == "#/components/schemas/ValidationError"
    assert ref("401") == ref("413") == "#/components/schemas/Error"
    components = schema["components"]["schemas"]
    assert set(components["Error"]["properties"]) == {"message", "extra"}
    assert set(components["ValidationError"]["properties"]) == {"message", "extra"}
    assert set(components["ValidationErrorExtra"]["properties"]) == {"fields"}


def test_docs_page_loads_swagger_ui_from_local_static_assets(anonymous_client):
    response = anonymous_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in assets
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))]


def test_swagger_ui_assets_are_served(anonymous_client):
    response = anonymous_client.get(
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    )

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"/*!")
    response.close()


def test_the_schema_states_the_limits_the_code_enforces(schema):
    components = schema["components"]["schemas"]
    predict = components["PredictRequest"]["properties"]
    assert predict["text"]["maxLength"] == limits.MAX_TEXT_CHARS
    assert predict["texts"]["maxItems"] == limits.MAX_BATCH_TEXTS
    assert predict["texts"]["items"]["maxLength"] == limits.MAX_TEXT_CHARS
    assert predict["reference"]["maxLength"] == limits.MAX_REFERENCE_CHARS
    assert predict["references"]["maxItems"] == limits.MAX_BATCH_TEXTS
    assert predict["references"]["items"]["maxLength"] == limits.MAX_REFERENCE_CHARS
    prediction = components["Prediction"]["properties"]
    assert prediction["prediction_id"] == {
        "type": "string",
        "format": "uuid",
        "description": "This prediction's id, which feedback can name it by.",
    }
    data = components["Data"]["properties"]
    assert (data["text"]["maxLength"], data["label"]["maxLength"]) == (
        limits.MAX_TEXT_CHARS,
        limits.MAX_LABEL_CHARS,
    )
    result = components["ResultRequest"]["properties"]
    assert result["y_true"]["maxItems"] == limits.MAX_RESULT_LABELS
