"""OpenAPI descriptions of the API's error shape, for `extend_schema(responses=...)`, and of
the token scope each operation needs."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from web.accounts.permissions import HasRequiredScope
from web.accounts.scopes import Scope, required_scope


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, as a sentence a person can act on.")
    extra = serializers.DictField(help_text="Details; empty unless the error has some.")


class ValidationErrorExtraSerializer(serializers.Serializer):
    fields = serializers.DictField(
        required=False,
        child=serializers.ListField(child=serializers.CharField()),
        help_text=(
            "Messages per field path: `text`, `parameters.alpha`, or `[3].label` "
            "for the item at index 3 of a list. Absent when the body is not valid JSON."
        ),
    )


class ValidationErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="The first problem, as a sentence.")
    extra = ValidationErrorExtraSerializer()


_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, or fields that fail validation.",
    401: "Missing, unknown, revoked or expired token.",
    403: "The token lacks the scope this operation needs; the message names it.",
    404: "No such object, or no such page.",
    409: "The request conflicts with the current state.",
    413: "Request body over DATA_UPLOAD_MAX_MEMORY_SIZE (4 MiB).",
    503: "A service this call depends on is unavailable.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for these status codes, in the API's error shape."""
    return {
        code: OpenApiResponse(
            ValidationErrorSerializer if code == 400 else ErrorSerializer,
            description=_DESCRIPTIONS.get(code, ""),
        )
        for code in codes
    }


_THROTTLED_METHODS = ("get", "post", "put", "patch", "delete")


def document_throttling(result: dict, **_: object) -> dict:
    """drf-spectacular postprocessing hook: every authenticated call can answer 429."""
    for operations in result.get("paths", {}).values():
        for method in _THROTTLED_METHODS:
            if method in operations and operations[method].get("security") != [{}]:
                operations[method]["responses"]["429"] = {
                    "description": "This client's budget of reads, writes or predictions "
                    "for the current period is spent; retry after the given seconds.",
                    "headers": {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "description": "Seconds until the budget renews.",
                        }
                    },
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
    return result


INFERENCE_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "What went wrong."}},
    "required": ["error"],
}


def document_inference_errors(result: dict, **_: object) -> dict:
    """drf-spectacular postprocessing hook: the inference protocol's paths (/v2) answer
    errors in its own shape, `{"error": ...}`, whoever added the response."""
    result.setdefault("components", {}).setdefault("schemas", {})["InferenceError"] = (
        INFERENCE_ERROR
    )
    ours = {"#/components/schemas/Error", "#/components/schemas/ValidationError"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/v2"):
            continue
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {}).get("application/json", {})
                if content.get("schema", {}).get("$ref") in ours:
                    content["schema"] = {"$ref": "#/components/schemas/InferenceError"}
    return result


def uuid_in_path(name: str):
    """Class decorator: the view's path parameter `name` is a UUID (anything else is a 400)."""
    return extend_schema(parameters=[OpenApiParameter(name, OpenApiTypes.UUID, "path")])


class ScopedAutoSchema(AutoSchema):
    """Every operation that needs a token says which scope, and documents the 403 a token
    without it gets."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None or not any(
            issubclass(permission, HasRequiredScope) for permission in self.view.permission_classes
        ):
            return operation
        scope = required_scope(self.view, self.method)
        needs = f"Needs a token with the `{scope}` scope (or one that implies it)."
        description = operation.get("description")
        operation["description"] = f"{description}\n\n{needs}" if description else needs
        operation["responses"]["403"] = {
            "description": _DESCRIPTIONS[403],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        return operation


class ScopedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "web.accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        scopes = "; ".join(f"`{scope.value}`: {scope.label}" for scope in Scope)
        return {
            **build_bearer_security_scheme_object(
                header_name="Authorization", token_prefix=self.target.keyword
            ),
            "description": "`Authorization: Token <key>`. A token holds one or more scopes: "
            f"{scopes}. Each operation names the scope it needs; a token without it gets a 403.",
        }
