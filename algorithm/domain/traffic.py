"""Traffic between model versions: a canary, a candidate version that answers a share of the
predictions that name no version, and a shadow, a version that scores a share of them off the
answer path so its labels can be compared with the champion's (the active version's).

Both live in MODEL_DIR/TRAFFIC as one JSON object, replaced by a rename as ACTIVE is
(ModelStore.read_traffic and update_traffic); no file means no split. Routing is sticky: the
same reference (else caller) lands on the same version for as long as the canary stays.
"""

import datetime
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from algorithm.domain.errors import InvalidArgument, parse_uuid
from common import limits

TRAFFIC_FILE = "TRAFFIC"
# Two small objects; anything longer was not written by this service.
MAX_FILE_BYTES = 4096
# Routing resolution: a canary's percent is honoured to a hundredth of a percent.
BUCKETS = 10_000
DEFAULT_MAX_ERROR_RATE = 0.05
DEFAULT_MIN_ANSWERS = 100
DEFAULT_MIN_FEEDBACK = 50
ROLES = ("champion", "canary", "shadow")


@dataclass(frozen=True)
class Canary:
    model_id: str
    percent: float
    # When this version became the canary (ISO 8601, UTC): the rollback check counts from it.
    since: str
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    min_live_accuracy: float | None = None
    min_answers: int = DEFAULT_MIN_ANSWERS
    min_feedback: int = DEFAULT_MIN_FEEDBACK

    def routes(self, key: str) -> bool:
        """Whether a prediction with this routing key goes to the canary: a stable hash of
        the key, salted with the canary's id, so a new canary draws its share afresh."""
        digest = hashlib.blake2b(f"{self.model_id}\0{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest) % BUCKETS < round(self.percent * BUCKETS / 100)


@dataclass(frozen=True)
class Shadow:
    model_id: str
    # The share of predictions (0 < share <= 1) the shadow also scores.
    share: float
    since: str


@dataclass(frozen=True)
class Traffic:
    canary: Canary | None = None
    shadow: Shadow | None = None

    def named(self) -> set[str]:
        """The versions this traffic sends predictions to, besides the active one."""
        return {part.model_id for part in (self.canary, self.shadow) if part is not None}

    def without(self, model_id: str) -> "Traffic":
        """This traffic with no part naming the version."""
        return Traffic(
            canary=None if self.canary and self.canary.model_id == model_id else self.canary,
            shadow=None if self.shadow and self.shadow.model_id == model_id else self.shadow,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "canary": asdict(self.canary) if self.canary else None,
            "shadow": asdict(self.shadow) if self.shadow else None,
        }


NONE = Traffic()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _number(values: Mapping[str, object], field: str, where: str) -> float:
    value = values.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{where}.{field} must be a number.")
    return float(value)


def _fraction(values: Mapping[str, object], field: str, where: str, default: float) -> float:
    if values.get(field) is None:
        return default
    value = _number(values, field, where)
    if not 0 <= value <= 1:
        raise InvalidArgument(f"{where}.{field} must be between 0 and 1; it is {value:g}.")
    return value


def _count(values: Mapping[str, object], field: str, where: str, default: int) -> int:
    if values.get(field) is None:
        return default
    value = _number(values, field, where)
    if value != int(value) or not 1 <= value <= limits.MAX_TRAFFIC_MIN_COUNT:
        raise InvalidArgument(
            f"{where}.{field} must be a whole number from 1 to {limits.MAX_TRAFFIC_MIN_COUNT}."
        )
    return int(value)


def _model_id(values: Mapping[str, object], where: str) -> str:
    value = values.get("model_id")
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{where}.model_id must name a model version.")
    return str(parse_uuid(value, f"{where}.model_id"))


def canary_from(values: Mapping[str, object], since: str) -> Canary:
    """A canary from a caller's (or the file's) values, each checked; defaults for those
    left out."""
    percent = _number(values, "percent", "canary")
    if not 0 < percent < 100:
        raise InvalidArgument(
            f"canary.percent must be above 0 and below 100; it is {percent:g}. To send every "
            "prediction to the version, activate it."
        )
    accuracy = values.get("min_live_accuracy")
    return Canary(
        model_id=_model_id(values, "canary"),
        percent=percent,
        since=since,
        max_error_rate=_fraction(values, "max_error_rate", "canary", DEFAULT_MAX_ERROR_RATE),
        min_live_accuracy=None
        if accuracy is None
        else _fraction(values, "min_live_accuracy", "canary", 0.0),
        min_answers=_count(values, "min_answers", "canary", DEFAULT_MIN_ANSWERS),
        min_feedback=_count(values, "min_feedback", "canary", DEFAULT_MIN_FEEDBACK),
    )


def shadow_from(values: Mapping[str, object], since: str) -> Shadow:
    share = _number(values, "share", "shadow")
    if not 0 < share <= 1:
        raise InvalidArgument(f"shadow.share must be above 0 and at most 1; it is {share:g}.")
    return Shadow(model_id=_model_id(values, "shadow"), share=share, since=since)


def _since(values: Mapping[str, object]) -> str:
    since = values.get("since")
    if not isinstance(since, str):
        raise ValueError("no since")
    datetime.datetime.fromisoformat(since)
    return since


def parse(data: bytes) -> Traffic:
    """The traffic a TRAFFIC file holds; ValueError if it is not one this service wrote."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"longer than {MAX_FILE_BYTES} bytes")
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    canary, shadow = document.get("canary"), document.get("shadow")
    for part in (canary, shadow):
        if part is not None and not isinstance(part, dict):
            raise ValueError("canary and shadow must be objects or null")
    try:
        return Traffic(
            canary=canary_from(canary, _since(canary)) if canary else None,
            shadow=shadow_from(shadow, _since(shadow)) if shadow else None,
        )
    except InvalidArgument as error:
        raise ValueError(error.message) from None


def dump(traffic: Traffic) -> bytes:
    return json.dumps(traffic.as_json(), indent=2).encode()


def keep_since(new: Traffic, old: Traffic) -> Traffic:
    """New traffic that keeps the time each part started when it names the same version as
    before: changing a canary's percent or bounds does not restart its rollback window."""
    canary, shadow = new.canary, new.shadow
    if canary and old.canary and canary.model_id == old.canary.model_id:
        canary = replace(canary, since=old.canary.since)
    if shadow and old.shadow and shadow.model_id == old.shadow.model_id:
        shadow = replace(shadow, since=old.shadow.since)
    return Traffic(canary=canary, shadow=shadow)
