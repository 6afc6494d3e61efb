"""The traffic split as the algorithm service's TrafficService keeps it: one call and one
shape of its answer for the REST views and the console alike."""

from typing import Any

from algorithm.v1 import traffic_pb2, traffic_pb2_grpc
from common.proto_json import as_json
from web.algorithm_proxy.client import service_call


def traffic_call(method: str, request: Any) -> Any:
    """A TrafficService method, by the name its .proto gives it."""
    return service_call(traffic_pb2_grpc.TrafficServiceStub, method, request)


def traffic_body(message: traffic_pb2.Traffic) -> dict[str, Any]:
    """A split as REST answers it: `champion_id` null before the first version."""
    body = as_json(message)
    return {**body, "champion_id": body["champion_id"] or None}


def traffic_current() -> dict[str, Any]:
    """The canary and the shadow in force (each null when none is set), and the champion."""
    return traffic_body(traffic_call("GetTraffic", traffic_pb2.GetTrafficRequest()).traffic)
