"""The OpenAPI schema of /api/traffic/ documents every field of the TrafficService messages
its bodies are written from, and each path with the scope it needs."""

import pytest

from algorithm.v1 import traffic_pb2
from common.proto_json import json_name
from web.promotion import traffic_serializers

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("serializer", "message"),
    [
        (traffic_serializers.TrafficSerializer, traffic_pb2.Traffic),
        (traffic_serializers.CanarySerializer, traffic_pb2.Canary),
        (traffic_serializers.ShadowSerializer, traffic_pb2.Shadow),
        (traffic_serializers.ShadowAgreementSerializer, traffic_pb2.GetShadowAgreementResponse),
        (traffic_serializers.LabelAgreementSerializer, traffic_pb2.LabelAgreement),
        (traffic_serializers.LabelPairSerializer, traffic_pb2.LabelPair),
    ],
)
def test_each_body_documents_every_field_of_its_message(serializer, message):
    assert set(serializer().fields) == {json_name(field) for field in message.DESCRIPTOR.fields}


def test_the_request_bodies_take_what_the_messages_take_but_since():
    canary = {json_name(field) for field in traffic_pb2.Canary.DESCRIPTOR.fields} - {"since"}
    shadow = {json_name(field) for field in traffic_pb2.Shadow.DESCRIPTOR.fields} - {"since"}

    assert set(traffic_serializers.CanaryRequestSerializer().fields) == canary
    assert set(traffic_serializers.ShadowRequestSerializer().fields) == shadow


def test_the_schema_names_the_scopes(anonymous_client):
    schema = anonymous_client.get("/api/schema/?format=json").json()
    traffic = schema["paths"]["/api/traffic/"]

    assert "`read` scope" in traffic["get"]["description"]
    assert "`admin` scope" in traffic["put"]["description"]
    assert "`admin` scope" in traffic["delete"]["description"]
    shadow = schema["paths"]["/api/traffic/shadow/"]["get"]
    assert "`read` scope" in shadow["description"]
    assert [p["name"] for p in shadow["parameters"]] == ["model_id"]
