"""Traffic between versions: the TRAFFIC file, its checks, sticky routing, and what the store
refuses or changes because of it."""

import json
import uuid

import pytest

from algorithm.domain import traffic
from algorithm.domain.errors import FailedPrecondition, InvalidArgument
from algorithm.domain.store import ModelIntegrityError
from algorithm.domain.traffic import Canary, Shadow, Traffic

SINCE = "2026-01-01T00:00:00+00:00"


def _canary(model_id: str, percent: float = 10.0, **bounds) -> Canary:
    return traffic.canary_from({"model_id": model_id, "percent": percent, **bounds}, SINCE)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"percent": 0}, "canary.percent must be above 0 and below 100; it is 0."),
        ({"percent": 100}, "canary.percent must be above 0 and below 100; it is 100."),
        ({"percent": "ten"}, "canary.percent must be a number."),
        ({"percent": 5, "max_error_rate": 1.5}, "canary.max_error_rate must be between 0 and 1"),
        ({"percent": 5, "min_answers": 0}, "canary.min_answers must be a whole number from 1"),
        ({"percent": 5, "min_feedback": 2.5}, "canary.min_feedback must be a whole number"),
    ],
)
def test_a_canary_out_of_bounds_is_refused_naming_the_field(values, message):
    with pytest.raises(InvalidArgument) as raised:
        traffic.canary_from({"model_id": str(uuid.uuid4()), **values}, SINCE)

    assert raised.value.message.startswith(message)


def test_a_canary_left_without_bounds_gets_the_defaults():
    canary = _canary(str(uuid.uuid4()))

    assert (canary.max_error_rate, canary.min_live_accuracy) == (0.05, None)
    assert (canary.min_answers, canary.min_feedback) == (100, 50)


@pytest.mark.parametrize("share", [0, 1.01, -1])
def test_a_shadow_share_out_of_bounds_is_refused(share):
    with pytest.raises(InvalidArgument, match=r"shadow\.share must be above 0 and at most 1"):
        traffic.shadow_from({"model_id": str(uuid.uuid4()), "share": share}, SINCE)


def test_the_file_round_trips_and_a_foreign_one_is_refused():
    split = Traffic(
        canary=_canary(str(uuid.uuid4()), 12.5, min_live_accuracy=0.8),
        shadow=Shadow(str(uuid.uuid4()), 0.5, SINCE),
    )

    assert traffic.parse(traffic.dump(split)) == split
    for data in (b"[]", b"{", json.dumps({"canary": {"percent": 5}}).encode(), b"x" * 5000):
        with pytest.raises(ValueError):
            traffic.parse(data)


def test_routing_is_sticky_and_takes_the_percent():
    canary = _canary(str(uuid.uuid4()), 10)
    keys = [f"ticket-{index}" for index in range(20_000)]

    routed = [canary.routes(key) for key in keys]

    assert routed == [canary.routes(key) for key in keys]
    assert 0.09 < sum(routed) / len(keys) < 0.11


def test_a_new_canary_draws_its_share_afresh():
    keys = [f"ticket-{index}" for index in range(2_000)]
    first, second = _canary(str(uuid.uuid4()), 50), _canary(str(uuid.uuid4()), 50)

    assert [first.routes(k) for k in keys] != [second.routes(k) for k in keys]


def test_changing_the_percent_keeps_since_and_a_new_version_does_not():
    old = Traffic(canary=_canary("00000000-0000-0000-0000-000000000001", 10))
    later = "2026-02-01T00:00:00+00:00"
    same = Traffic(
        canary=traffic.canary_from(
            {"model_id": "00000000-0000-0000-0000-000000000001", "percent": 20}, later
        )
    )
    other = Traffic(
        canary=traffic.canary_from(
            {"model_id": "00000000-0000-0000-0000-000000000002", "percent": 20}, later
        )
    )

    assert traffic.keep_since(same, old).canary.since == SINCE
    assert traffic.keep_since(other, old).canary.since == later


def test_the_store_writes_traffic_by_a_rename_and_reads_none_without_it(store, publish):
    candidate = publish()
    assert store.read_traffic() == traffic.NONE

    before, after = store.update_traffic(lambda _: Traffic(canary=_canary(candidate)))

    assert before == traffic.NONE
    assert store.read_traffic() == after
    assert sorted(p.name for p in store.root.iterdir()) == sorted([candidate, "TRAFFIC"])


def test_a_version_in_the_traffic_cannot_be_deleted(store, publish):
    champion, candidate = publish(), publish()
    store.activate(champion)
    store.update_traffic(lambda _: Traffic(canary=_canary(candidate)))

    with pytest.raises(FailedPrecondition, match="takes part in the traffic split"):
        store.delete(candidate)
    assert store.exists(candidate)


def test_activating_a_canary_or_shadow_removes_it_from_the_traffic(store, publish):
    champion, candidate, shadow = publish(), publish(), publish()
    store.activate(champion)
    store.update_traffic(
        lambda _: Traffic(canary=_canary(candidate), shadow=Shadow(shadow, 1.0, SINCE))
    )

    store.activate(candidate)

    assert store.read_traffic().canary is None
    assert store.read_traffic().shadow.model_id == shadow
    store.activate(shadow)
    assert store.read_traffic() == traffic.NONE


def test_a_traffic_file_someone_else_wrote_is_an_integrity_error(store):
    store.root.mkdir(parents=True)
    (store.root / "TRAFFIC").write_text('{"canary": {"model_id": "x", "percent": 500}}')

    with pytest.raises(ModelIntegrityError, match="not one this service wrote"):
        store.read_traffic()
