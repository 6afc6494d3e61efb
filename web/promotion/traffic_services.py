"""Changes to the traffic split (algorithm.v1.TrafficService), for the REST views and the
console alike: both validate with TrafficRequestSerializer and call these."""

from typing import Any

from algorithm.v1 import traffic_pb2
from common.proto_json import from_json
from web.promotion.traffic_selectors import traffic_body, traffic_call


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """A validated part as the message's JSON: ids as strings, bounds left out as unset."""
    return {key: str(value) if key == "model_id" else value for key, value in values.items()}


def traffic_set(*, canary: dict[str, Any] | None, shadow: dict[str, Any] | None) -> dict[str, Any]:
    """Replace the canary and the shadow (each a validated part of TrafficRequestSerializer,
    or None for none); the split now in force, as REST answers it."""
    request = traffic_pb2.SetTrafficRequest(
        canary=None if canary is None else from_json(traffic_pb2.Canary, _plain(canary)),
        shadow=None if shadow is None else from_json(traffic_pb2.Shadow, _plain(shadow)),
    )
    return traffic_body(traffic_call("SetTraffic", request).traffic)


def traffic_clear() -> None:
    """Remove the canary and the shadow: the active version answers every prediction."""
    traffic_call("ClearTraffic", traffic_pb2.ClearTrafficRequest())
