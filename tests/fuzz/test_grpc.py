"""Hypothesis against every method of every algorithm.v1 service on a live gRPC server.

Requests are built from the protos' own descriptors, so a method added to a .proto is fuzzed
with no change here. Fields get what a careless or hostile caller sends: any unicode text
(empty, NUL, control and right-to-left characters, huge), ids that are no UUIDs or UUIDs of
nothing, huge batches, random parameter Structs, random cron expressions, random label lists.
Whatever comes in, the answer is a status a caller can act on, with a message, within the
deadline: never UNKNOWN or INTERNAL.
"""

import collections
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algorithm.domain import ml
from algorithm.v1 import (
    info_pb2,
    models_pb2,
    monitoring_pb2,
    prediction_pb2,
    promotion_pb2,
    training_pb2,
)

pytestmark = [
    pytest.mark.slow,
    # A falsifying example may hold a 2 MB string: Hypothesis warns as it prints it.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

MAX_EXAMPLES = 35
DEADLINE_SECONDS = 15
METHODS = [
    method
    for module in (
        prediction_pb2,
        training_pb2,
        models_pb2,
        info_pb2,
        monitoring_pb2,
        promotion_pb2,
    )
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
# Statuses that say the server failed, not the caller.
SERVER_FAULTS = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.DATA_LOSS,
}

# Any unicode a protobuf string can carry (UTF-8, so no lone surrogates), and often the
# characters that break things downstream: NUL, controls, direction marks, emoji, quotes.
CHARACTERS = st.characters(codec="utf-8")
ODD_CHARACTERS = st.sampled_from(["\x00", "\x1f", "\n", "\u202e", "\ufeff", "İ", "🙂", "%", "'"])
ODD_TEXTS = st.sampled_from(["", " ", "\x00", "\t\n\r", "%s%n{0}", "' OR 1=1 --"])
SHORT_TEXTS = st.one_of(
    ODD_TEXTS,
    st.text(CHARACTERS, max_size=40),
    st.text(st.one_of(ODD_CHARACTERS, CHARACTERS), min_size=1, max_size=12),
)
TEXTS = st.one_of(
    SHORT_TEXTS,
    st.one_of(
        st.integers(19_990, 20_010).map(lambda n: "ab " * (n // 3) + "x" * (n % 3)),  # the limit
        st.just("x" * 2_000_000),
    ),
)
TEXT_LISTS = st.one_of(
    st.lists(SHORT_TEXTS, max_size=8),
    st.integers(995, 1_005).map(lambda n: ["free prize"] * n),  # around the batch limit
    st.lists(TEXTS, min_size=1, max_size=2),
)
CRON_FIELDS = st.one_of(
    st.sampled_from(["*", "*/5", "0", "59", "60", "1-5", "5-1", "MON", "jan", "?", "L", "-1"]),
    st.integers(-5, 100).map(str),
    SHORT_TEXTS,
)
CRONS = st.one_of(
    st.lists(CRON_FIELDS, min_size=0, max_size=7).map(" ".join),
    SHORT_TEXTS,
    st.just("* " * 10_000),
)
JSON_SCALARS = st.one_of(
    SHORT_TEXTS,
    st.floats(),  # NaN and the infinities too
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SHORT_TEXTS, inner, max_size=4),
    max_leaves=12,
)
PARAMETER_NAMES = sorted({p.name for a in ml.ALGORITHMS.values() for p in a.parameters})
PARAMETERS = st.dictionaries(st.one_of(st.sampled_from(PARAMETER_NAMES), SHORT_TEXTS), JSON)
LABEL_LISTS = st.one_of(
    st.lists(st.one_of(SHORT_TEXTS, JSON_SCALARS), min_size=1, max_size=1),  # as long as the other
    st.lists(JSON_SCALARS, max_size=6),
    st.lists(JSON, max_size=4),
    st.integers(99_999, 100_001).map(lambda n: ["spam"] * n),  # around the limit
)

cases_sent: collections.Counter[str] = collections.Counter()


def _ids(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(known),
        st.uuids().map(str),  # a UUID of nothing
        st.uuids().map(lambda u: "{" + str(u).upper() + "}"),
        SHORT_TEXTS,
        st.integers().map(str),
    )


def _string_field(name: str, known: list[str]) -> st.SearchStrategy[str]:
    if name.endswith("_id"):
        return _ids(known)
    if name == "cron_expression":
        return CRONS
    if name == "algorithm":
        return st.one_of(st.sampled_from(sorted(ml.ALGORITHMS)), SHORT_TEXTS)
    if name == "page_token":
        return st.one_of(st.integers().map(str), SHORT_TEXTS)
    return TEXTS


def _field(field: FieldDescriptor, known: list[str]) -> st.SearchStrategy[Any]:
    repeated = field.is_repeated
    if field.message_type is not None:
        name = field.message_type.full_name
        if name == "google.protobuf.Struct":
            return PARAMETERS
        if name == "google.protobuf.ListValue":
            return LABEL_LISTS
        inner = _message(field.message_type, known)
        return st.lists(inner, max_size=3) if repeated else inner
    if field.type == FieldDescriptor.TYPE_STRING:
        return TEXT_LISTS if repeated else _string_field(field.name, known)
    if field.type == FieldDescriptor.TYPE_INT32:
        return st.integers(-(2**31), 2**31 - 1)
    if field.type == FieldDescriptor.TYPE_INT64:
        numbers = st.integers(-(2**63), 2**63 - 1)
        return st.lists(numbers, max_size=8) if repeated else numbers
    if field.type == FieldDescriptor.TYPE_DOUBLE:
        return st.floats()  # NaN and the infinities too
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    raise NotImplementedError(f"No strategy for {field.full_name}; add one.")


def _message(descriptor, known: list[str]) -> st.SearchStrategy[Any]:
    message_class = message_factory.GetMessageClass(descriptor)
    fields = {field.name: _field(field, known) for field in descriptor.fields}

    def build(values: dict[str, Any]):
        message = message_class()
        for name, value in values.items():
            target = getattr(message, name)
            if hasattr(target, "update"):  # a Struct
                target.update(value)
            elif hasattr(target, "extend"):  # a repeated field or a ListValue
                target.extend(value)
            elif hasattr(target, "CopyFrom"):
                target.CopyFrom(value)
            else:
                setattr(message, name, value)
        return message

    # Mostly every field set, as a caller filling the request in would; sometimes any subset.
    return st.one_of(st.fixed_dictionaries(fields), st.fixed_dictionaries({}, optional=fields)).map(
        build
    )


@pytest.fixture(scope="module")
def known_ids(fuzz_stack, fuzz_channel) -> list[str]:
    """Ids that name real things, so the fuzzer also reaches the paths past the lookups."""
    get_info = fuzz_channel.unary_unary(
        "/algorithm.v1.InfoService/GetInfo",
        request_serializer=info_pb2.GetInfoRequest.SerializeToString,
        response_deserializer=info_pb2.GetInfoResponse.FromString,
    )
    model = get_info(info_pb2.GetInfoRequest(), timeout=DEADLINE_SECONDS).active_model
    assert model.model_id, "the fuzz stack serves a model"
    return [model.model_id, model.model_id.upper()]


@pytest.mark.parametrize("method", METHODS, ids=lambda method: method.full_name)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_method_answers_with_a_status_a_caller_can_act_on(
    method, fuzz_channel, known_ids, data
):
    request = data.draw(_message(method.input_type, known_ids), label="request")
    input_class = message_factory.GetMessageClass(method.input_type)
    output_class = message_factory.GetMessageClass(method.output_type)
    path = f"/{method.containing_service.full_name}/{method.name}"
    arguments = {
        "request_serializer": input_class.SerializeToString,
        "response_deserializer": output_class.FromString,
    }
    cases_sent[method.full_name] += 1
    try:
        if method.server_streaming:
            list(fuzz_channel.unary_stream(path, **arguments)(request, timeout=DEADLINE_SECONDS))
        else:
            fuzz_channel.unary_unary(path, **arguments)(request, timeout=DEADLINE_SECONDS)
    except grpc.RpcError as error:
        assert error.code() not in SERVER_FAULTS, f"{error.code()}: {error.details()}"
        assert error.details(), f"{error.code()} without a message"


def test_the_fuzzing_reached_every_method():
    """Runs after the test above: every method got its cases (an empty request has one)."""
    print(f"{sum(cases_sent.values())} cases:", dict(sorted(cases_sent.items())))
    wanted = {m.full_name: MAX_EXAMPLES if m.input_type.fields else 1 for m in METHODS}
    assert {name: min(cases_sent[name], count) for name, count in wanted.items()} == wanted
