"""TrafficService: the canary and the shadow (algorithm/domain/traffic.py), set by an admin,
followed by every serving process (algorithm/serving/traffic.py), and the shadow's agreement
with the champion."""

import logging
from collections.abc import Mapping

from algorithm.domain import traffic, traffic_counts
from algorithm.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from algorithm.domain.store import ModelIntegrityError, parse_model_id
from algorithm.serving.model_repository import model_repository
from algorithm.v1 import traffic_pb2
from common.proto_json import from_json

logger = logging.getLogger(__name__)


def _message(split: traffic.Traffic) -> traffic_pb2.Traffic:
    return from_json(
        traffic_pb2.Traffic,
        {**split.as_json(), "champion_id": model_repository.store.active_id() or ""},
    )


def _check_version(model_id: str, role: str, active_id: str | None) -> None:
    """The version exists, is not the active one and passes every check a load makes; it is
    not loaded here (each serving process loads it on its first prediction)."""
    if model_id == active_id:
        raise InvalidArgument(
            f"{role}.model_id names the active version {model_id}, which already answers "
            "every prediction the split leaves it: name another version."
        )
    try:
        model_repository.store.verify(model_id)
    except NotFound:
        raise NotFound(f"{role}.model_id: model {model_id} does not exist.") from None
    except ModelIntegrityError as error:
        raise FailedPrecondition(
            f"Model {model_id} failed its integrity checks and cannot be the {role}: {error}."
        ) from error


def get_traffic() -> traffic_pb2.GetTrafficResponse:
    try:
        split = model_repository.store.read_traffic()
    except ModelIntegrityError as error:
        raise FailedPrecondition(f"{error}.") from None
    return traffic_pb2.GetTrafficResponse(traffic=_message(split))


def set_traffic(
    *, canary: Mapping[str, object] | None, shadow: Mapping[str, object] | None
) -> traffic_pb2.SetTrafficResponse:
    """Replace the split; a part naming the same version as before keeps its `since`."""
    since = traffic.now()
    wanted = traffic.Traffic(
        canary=traffic.canary_from(canary, since) if canary is not None else None,
        shadow=traffic.shadow_from(shadow, since) if shadow is not None else None,
    )
    store = model_repository.store
    active_id = store.active_id()
    if wanted.named() and active_id is None:
        raise FailedPrecondition(
            "No version is active: activate one before splitting traffic with another."
        )
    for role, part in (("canary", wanted.canary), ("shadow", wanted.shadow)):
        if part is not None:
            _check_version(parse_model_id(part.model_id), role, active_id)
    _, after = store.update_traffic(lambda current: traffic.keep_since(wanted, current))
    logger.info("Traffic set: %s", after.as_json())
    return traffic_pb2.SetTrafficResponse(traffic=_message(after))


def clear_traffic() -> traffic_pb2.ClearTrafficResponse:
    _, after = model_repository.store.update_traffic(lambda _current: traffic.NONE)
    logger.info("Traffic cleared")
    return traffic_pb2.ClearTrafficResponse(traffic=_message(after))


def get_shadow_agreement(*, model_id: str = "") -> traffic_pb2.GetShadowAgreementResponse:
    """The agreement of the named shadow (past or present), or of the current one."""
    current = model_repository.store.read_traffic().shadow
    if not model_id:
        if current is None:
            raise FailedPrecondition(
                "No shadow is set: name a past shadow with model_id, or set one "
                "(PUT /api/traffic/)."
            )
        model_id = current.model_id
    model_id = parse_model_id(model_id)
    figures = traffic_counts.agreement(model_id)
    return from_json(
        traffic_pb2.GetShadowAgreementResponse,
        {**figures, "current": current is not None and current.model_id == model_id},
    )
