"""Every route of web/config/urls.py needs a token, except health, schema and docs; the
console's pages (a session, not a token) send a visitor who is not signed in to sign in.

Walks the URLconf itself, so a route added later is covered without touching this test."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

OPEN = {"/api/health/", "/api/health/live/", "/api/schema/", "/api/docs/"}
SAMPLE_ID = "0b0e7a4e-5d36-4f1e-9a43-9d4c1c1d2b11"
# The inference protocol's probes (KServe V2), open like health; its other paths answer its
# own error shape.
INFERENCE_OPEN = {
    "/v2/health/live",
    "/v2/health/ready",
    f"/v2/models/{SAMPLE_ID}/ready",
    f"/v2/models/{SAMPLE_ID}/versions/{SAMPLE_ID}/ready",
}
# Swagger UI's own assets (web/config/urls.py serves them): public files, no data.
STATIC = "/static/"
METHODS = ("get", "post", "put", "patch", "delete", "options")
# The console's paths take a session, never a token: the sign-in page and the catch-all 404
# page are open, every other page sends a visitor to sign in.
CONSOLE = "/console/"
CONSOLE_OPEN = {"/console/sign-in/", "/console/.*"}


def _routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            assert isinstance(pattern, URLPattern)
            yield route


def _concrete(route: str) -> str:
    route = re.sub(r"\(\?P<\w+>[^)]*\)", SAMPLE_ID, route)  # the router's regexes
    route = re.sub(r"<int:\w+>", "1", route)  # path("<int:token_id>/")
    route = re.sub(r"<(?:\w+:)?\w+>", SAMPLE_ID, route)  # path("<str:model_id>/")
    return "/" + route


ROUTES = sorted({_concrete(route) for route in _routes(get_resolver().url_patterns)})
PROTECTED = [
    path
    for path in ROUTES
    if path not in OPEN | INFERENCE_OPEN and not path.startswith((STATIC, CONSOLE))
]
CONSOLE_PAGES = [path for path in ROUTES if path.startswith(CONSOLE) and path not in CONSOLE_OPEN]


def test_the_walk_finds_every_route_of_the_contract():
    assert set(ROUTES) >= OPEN | INFERENCE_OPEN
    assert len(PROTECTED) >= 21
    assert {
        "/api/predict/",
        "/api/data/",
        f"/api/data/{SAMPLE_ID}/",
        "/api/log/",
        "/api/tokens/",
        "/api/tokens/1/",
    } <= set(PROTECTED)
    assert [path for path in ROUTES if path.startswith(STATIC)] == [STATIC + SAMPLE_ID]


@pytest.mark.parametrize("path", PROTECTED)
def test_every_method_of_every_other_route_needs_a_token(anonymous_client, path):
    for method in METHODS:
        response = getattr(anonymous_client, method)(path)
        assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
        refusal = "Authentication credentials were not provided."
        expected = (
            {"error": refusal} if path.startswith("/v2") else {"message": refusal, "extra": {}}
        )
        assert response.json() == expected


def test_the_walk_finds_the_consoles_pages():
    assert {"/console/", "/console/try/", "/console/tokens/", "/console/sign-out/"} <= set(
        CONSOLE_PAGES
    )


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_every_console_page_sends_a_visitor_to_sign_in_and_refuses_a_post(path):
    client = Client(enforce_csrf_checks=True)
    answer = client.get(path)
    if path == "/console/sign-out/":
        assert answer.status_code == 405  # a form's target only
    else:
        assert (answer.status_code, answer["Location"]) == (302, f"/console/sign-in/?next={path}")
    # No CSRF token, no session: refused before anything else.
    assert client.post(path).status_code == 403


@pytest.mark.parametrize("path", sorted(OPEN))
def test_health_schema_and_docs_answer_without_a_token(anonymous_client, path):
    # Readiness is 503 here, where no algorithm service runs: answered all the same.
    expected = {200, 503} if path == "/api/health/" else {200}
    assert anonymous_client.get(path).status_code in expected


@pytest.mark.parametrize("path", sorted(INFERENCE_OPEN))
def test_the_inference_protocols_probes_answer_without_a_token(anonymous_client, path):
    # 503 here, where no shim runs: answered all the same, in the protocol's shape.
    response = anonymous_client.get(path)

    assert response.status_code in {200, 400, 503}
    assert set(response.json()) <= {"live", "ready", "name", "error"}
