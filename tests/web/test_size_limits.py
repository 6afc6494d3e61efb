"""Size limits on what clients send: every string in a request body has a maximum length,
and a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a JSON 413 on every endpoint that reads one."""

import json

import pytest

from web.data.models import Data

pytestmark = pytest.mark.django_db


def _strings(node, where, components, seen=()):
    """Yield (where, maxLength) for every plain string in a schema."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _strings(components[name], where, components, (*seen, name))
        return
    for key in ("oneOf", "anyOf", "allOf"):
        for option in node.get(key, []):
            yield from _strings(option, where, components, seen)
    if node.get("type") == "string" and not {"format", "enum"} & set(node):
        yield where, node.get("maxLength")
    if node.get("type") == "array":
        yield from _strings(node.get("items", {}), f"{where}[]", components, seen)
    for name, child in node.get("properties", {}).items():
        yield from _strings(child, f"{where} {name}".strip(), components, seen)
    if isinstance(node.get("additionalProperties"), dict):
        yield from _strings(node["additionalProperties"], f"{where}.*", components, seen)


def test_every_string_in_a_request_body_has_a_maximum_length(anonymous_client):
    schema = anonymous_client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for where, limit in _strings(content["schema"], "", components):
                    found[f"{method} {path} {where}".strip()] = limit

    assert "post /api/predict/ texts[]" in found
    assert "post /api/results/ y_true[]" in found
    assert [where for where, limit in found.items() if limit is None] == []


# Fixed, so that every pytest-xdist worker collects the same test ids.
SOME_ID = "6f1d3c2a-9b8e-4f70-a5d4-2c1e0b9a8d76"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/data/"),
        ("put", "/api/data/{row}/"),
        ("patch", "/api/data/{row}/"),
        ("post", "/api/train/"),
        ("post", "/api/predict/"),
        ("post", f"/api/models/{SOME_ID}/retrain/"),
        ("post", f"/api/models/{SOME_ID}/evaluate/"),
        ("post", "/api/schedules/"),
        ("post", "/api/results/"),
    ],
)
def test_a_body_over_the_limit_is_a_json_413_everywhere(api_client, settings, method, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2**20  # 4 MiB by default: the same code, less work
    row = Data.objects.create(text="t", label="l")
    body = json.dumps({"text": "x" * 2**20})
    response = getattr(api_client, method)(
        path.format(row=row.pk), body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json() == {
        "message": "Request body is too large: the limit is 1048576 bytes (1 MiB).",
        "extra": {},
    }
