"""Hypothesis against every endpoint of the live Flask shim: JSON bodies of any shape (wrong
types, deep nesting, huge strings), malformed JSON, any content type, odd ids in the path,
and the wrong method. Never a 5xx; every error is a JSON object with a message."""

import collections
import json
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [
    pytest.mark.slow,
    # A falsifying example may hold a 2 MB string: Hypothesis warns as it prints it.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

MAX_EXAMPLES = 30
TIMEOUT_SECONDS = 15
# (method, path with {id} for a path parameter)
ENDPOINTS = [
    ("POST", "/train"),
    ("GET", "/jobs/{id}"),
    ("POST", "/predict"),
    ("GET", "/algorithms"),
    ("GET", "/health"),
    ("POST", "/schedule"),
    ("GET", "/results/{id}"),
]
KEYS = ["text", "texts", "model_id", "algorithm", "parameters", "request_id", "cron_expression"]

CHARACTERS = st.characters(codec="utf-8")
TEXTS = st.one_of(
    st.sampled_from(["", " ", "\x00", "* * * * *", "*/0 * * * *", "logistic_regression"]),
    st.text(CHARACTERS, max_size=30),
    st.uuids().map(str),
    st.just("x" * 300_000),
)
NUMBERS = st.integers() | st.floats() | st.sampled_from([2**63, -(2**1030), 10**400])
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=10,
)
# Objects with the names the endpoints read, holding anything, plus any other JSON.
OBJECTS = st.fixed_dictionaries({}, optional=dict.fromkeys(KEYS, JSON)) | JSON
DEEP = st.integers(1, 200_000).map(lambda depth: "[" * depth + "]" * depth)
BODIES = st.one_of(
    OBJECTS.map(lambda value: json.dumps(value).encode()),  # NaN and Infinity included
    st.binary(max_size=64),
    OBJECTS.map(lambda value: json.dumps(value).encode()[:-1]),  # cut short
    DEEP.map(str.encode),
    st.just(b""),
    st.just(json.dumps({"texts": ["free prize"] * 1_001}).encode()),
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-16",
        "application/json; charset=bogus",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/x-ndjson",
        "*/*",
        ";;;",
    ]
)
# Under gunicorn's request-line limit, above which gunicorn itself answers, before Flask.
IDS = st.one_of(st.uuids().map(str), st.text(CHARACTERS, min_size=1, max_size=200))

cases_sent: collections.Counter[str] = collections.Counter()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=lambda value: value)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_endpoint_answers_json_and_never_a_server_error(
    method, path, fuzz_stack, fuzz_http, data
):
    if "{id}" in path:
        path = path.format(id=urllib.parse.quote(data.draw(IDS, label="id"), safe=""))
    sent_method = data.draw(st.sampled_from([method, method, "PUT", "DELETE"]), label="method")
    body = data.draw(BODIES, label="body")
    content_type = data.draw(CONTENT_TYPES, label="content type")
    # A fresh connection each time: gunicorn closes one whose body it did not read.
    headers = {"Connection": "close"}
    if content_type:
        headers["Content-Type"] = content_type
    cases_sent[f"{method} {path.split('/')[1]}"] += 1
    response = fuzz_http.request(
        sent_method,
        f"{fuzz_stack.shim_url}{path}",
        data=body,
        headers=headers,
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code < 500, response.text[:500]
    assert response.headers["Content-Type"] == "application/json", response.text[:500]
    answer = response.json()
    if response.status_code >= 400:
        assert isinstance(answer, dict), answer
        assert isinstance(answer.get("message"), str), answer
        assert answer["message"].strip(), answer


def test_the_fuzzing_reached_every_endpoint():
    """Runs after the test above: every endpoint got its cases."""
    print(f"{sum(cases_sent.values())} cases:", dict(sorted(cases_sent.items())))
    wanted = {f"{method} {path.split('/')[1]}": MAX_EXAMPLES for method, path in ENDPOINTS}
    assert {name: min(cases_sent[name], count) for name, count in wanted.items()} == wanted
