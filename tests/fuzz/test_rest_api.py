"""Schemathesis against the live web API: generated requests to every operation of the
OpenAPI schema web serves, valid and invalid, with a real token (the service's, of the admin
scope; then one of the predict scope alone, refused almost everywhere); no answer may be a
5xx or stray from what the schema documents (status code, content type, headers, body)."""

import collections
import json

import hypothesis
import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from schemathesis import checks

pytestmark = pytest.mark.slow

SEED = 20261129
MAX_EXAMPLES = 15
MIN_CASES = 1_000
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

# The schema is needed to collect the tests, before any server runs: it is built here as
# /api/schema/ builds it, and the first test checks the live server serves the same one.
OPENAPI = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
schema = schemathesis.openapi.from_dict(OPENAPI)
schema.config.generation.update(
    max_examples=MAX_EXAMPLES, database="none", with_security_parameters=False
)
schema.config.seed = SEED

# Imports take JSON lines as raw bytes, like any other file.
schemathesis.serializer.alias(
    ["application/jsonl", "application/x-ndjson"], "application/octet-stream"
)


@pytest.fixture(scope="module")
def cases_sent(request):
    """Counts the cases sent per operation; once every fuzzing test has run, however they
    were ordered, checks that they covered every operation with enough cases."""
    sent: collections.Counter[str] = collections.Counter()
    yield sent
    fuzzed = [item for item in request.session.items if item.originalname == FUZZ_TEST]
    operations = {result.ok().label for result in schema.get_all_operations()}
    print(f"{sum(sent.values())} cases:", dict(sorted(sent.items())))
    if len(fuzzed) == len(operations):  # not when -k picked a few operations
        assert set(sent) == operations
        assert sum(sent.values()) >= MIN_CASES


def test_the_live_server_serves_the_schema_fuzzed(fuzz_stack, fuzz_http):
    response = fuzz_http.get(f"{fuzz_stack.web_url}/api/schema/?format=json", timeout=10)
    assert response.status_code == 200
    assert response.json() == OPENAPI


FUZZ_TEST = "test_every_operation_answers_as_documented"


@schema.parametrize()
def test_every_operation_answers_as_documented(case, fuzz_stack, fuzz_http, cases_sent):
    cases_sent[case.operation.label] += 1
    case.call_and_validate(
        base_url=fuzz_stack.web_url,
        session=fuzz_http,
        headers={"Authorization": f"Token {fuzz_stack.token}"},
        checks=CHECKS,
        timeout=30,
    )


@pytest.fixture(scope="module")
def predict_token(fuzz_stack, fuzz_http) -> str:
    """A token of the predict scope alone, made over the API with the admin token (after the
    admin run, whose random revocations could not reach it)."""
    response = fuzz_http.post(
        f"{fuzz_stack.web_url}/api/tokens/",
        json={"user": "fuzz-predict", "scopes": ["predict"]},
        headers={"Authorization": f"Token {fuzz_stack.token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["key"]


@schema.parametrize()
@hypothesis.settings(max_examples=3)
def test_a_token_of_one_scope_gets_only_documented_answers(
    case, fuzz_stack, fuzz_http, predict_token
):
    case.call_and_validate(
        base_url=fuzz_stack.web_url,
        session=fuzz_http,
        headers={"Authorization": f"Token {predict_token}"},
        checks=CHECKS,
        timeout=30,
    )
