"""Traffic in a serving process: routing a prediction to the canary, a canary refused at load
answered by the active version and counted as erring, and the shadow's bounded queue and
budget, which skip rather than wait."""

import logging
import threading
import time
import uuid

import pytest

from algorithm.domain import traffic_counts
from algorithm.domain.prediction_log import DISAGREEMENT, FULL, HASH, UNCERTAIN, Policy
from algorithm.domain.traffic import Shadow, Traffic, canary_from
from algorithm.serving import traffic
from algorithm.serving.model_repository import ModelRepository
from algorithm.serving.shadow_scoring import ScoringFailed
from tests.support import wait_until

SINCE = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def repository(store, publish):
    champion, candidate = publish(), publish()
    store.activate(champion)
    served = ModelRepository(store, poll_seconds=3600, cache_size=4)
    served.refresh()
    served.champion_id, served.candidate_id = champion, candidate
    return served


@pytest.fixture
def written(monkeypatch):
    """What the counts' flushes write, instead of the database."""
    rows = {"counts": [], "agreement": []}
    monkeypatch.setattr(traffic_counts, "counts_add", lambda r: rows["counts"].extend(r))
    monkeypatch.setattr(traffic_counts, "agreement_add", lambda r: rows["agreement"].extend(r))
    traffic.counts.flush()
    rows["counts"].clear()
    rows["agreement"].clear()
    return rows


def _in_process(repository):
    """The shadow's labels from the version the repository gives, in this process."""
    return lambda model_id, texts: [
        label for label, _ in repository.traffic_model(model_id).predict(texts)
    ]


def _with_canary(repository, percent=50.0):
    canary = canary_from({"model_id": repository.candidate_id, "percent": percent}, SINCE)
    repository.traffic = Traffic(canary=canary)
    return canary


def test_no_canary_routes_everything_to_the_active_version(repository):
    assert {traffic.route(repository, f"r{i}", "") for i in range(100)} == {""}


def test_the_same_reference_always_gets_the_same_version(repository):
    canary = _with_canary(repository)
    references = [f"ticket-{i}" for i in range(200)]

    first = [traffic.route(repository, ref, "caller-a") for ref in references]

    assert first == [traffic.route(repository, ref, "caller-b") for ref in references]
    assert set(first) == {"", repository.candidate_id}
    assert first == [repository.candidate_id if canary.routes(r) else "" for r in references]


def test_without_a_reference_the_caller_decides(repository):
    _with_canary(repository)

    for caller in (f"token:{i}" for i in range(50)):
        assert len({traffic.route(repository, "", caller) for _ in range(5)}) == 1


def test_a_canary_refused_at_load_is_answered_by_the_champion_and_counted(
    repository, store, written
):
    _with_canary(repository, percent=99.99)
    with (store.root / repository.candidate_id / "model.pickle").open("ab") as stream:
        stream.write(b"tampered")

    routed = [traffic.route(repository, f"ref-{i}", "") for i in range(20)]
    traffic.counts.flush()

    assert set(routed) == {""}
    assert sum(row[3] for row in written["counts"] if row[0] == repository.candidate_id) >= 19


def test_a_call_answered_by_one_version_is_routed_by_its_first_reference_else_caller(
    repository,
):
    from common.coalescing import Origin

    _with_canary(repository)
    routed = set()
    for reference in (f"ticket-{i}" for i in range(50)):
        origins = [Origin("", "token:a", ""), Origin(reference, "token:b", "")]
        routed.add(found := traffic.route_batch(repository, origins))
        assert found == traffic.route(repository, reference, "")
    assert routed == {"", repository.candidate_id}
    for caller in (f"token:{i}" for i in range(20)):
        origins = [Origin("", caller, ""), Origin("", "token:other", "")]
        assert traffic.route_batch(repository, origins) == traffic.route(repository, "", caller)


def test_the_token_bucket_allows_its_rate_and_refills():
    now = [0.0]
    bucket = traffic.TokenBucket(10, clock=lambda: now[0])

    assert bucket.take(10)
    assert not bucket.take(1)
    now[0] = 0.5
    assert bucket.take(5)
    assert not bucket.take(1)


class _Blocking:
    """A shadow model whose scoring waits until released."""

    def __init__(self, model_id):
        self.model_id = model_id
        self.release = threading.Event()

    def predict(self, texts):
        self.release.wait(10)
        return [("other", {"other": 1.0}) for _ in texts]


def test_a_full_shadow_queue_skips_and_never_waits(repository, monkeypatch, written):
    shadow_id = str(uuid.uuid4())
    repository.traffic = Traffic(shadow=Shadow(shadow_id, 1.0, SINCE))
    blocking = _Blocking(shadow_id)
    monkeypatch.setattr(repository, "traffic_model", lambda _model_id: blocking)
    shadow = traffic.Shadow(
        repository, queue_size=3, texts_per_second=1000, scorer=_in_process(repository)
    )
    shadow.start()
    recorded = []

    def record(shadow_model_id, labels):
        recorded.append((shadow_model_id, labels))

    champion = repository.champion_id
    assert shadow.sample(champion, 4) == [0, 1, 2, 3]
    assert shadow.offer(champion, ["a"], ["ham"], record)
    assert shadow.offer(champion, ["b", "c"], ["ham", "other"], record)
    assert not shadow.offer(champion, ["d"], ["ham"], record)
    blocking.release.set()

    wait_until(lambda: len(recorded) == 2, 5, "the shadow's records")
    assert recorded == [(shadow_id, ["other"]), (shadow_id, ["other", "other"])]
    traffic.counts.flush()
    assert sorted(row[2:] for row in written["agreement"]) == [
        ("ham", "other", 2),
        ("other", "other", 1),
    ]
    assert shadow.offer(champion, ["e"], ["ham"], record)


class _Counting:
    """A shadow model that records the size of each call."""

    def __init__(self, model_id):
        self.model_id = model_id
        self.calls = []

    def predict(self, texts):
        self.calls.append(len(texts))
        return [("ham", {"ham": 1.0}) for _ in texts]


def test_the_shadow_scores_what_gathers_in_one_call_not_one_per_prediction(
    repository, monkeypatch, written
):
    shadow_id = str(uuid.uuid4())
    repository.traffic = Traffic(shadow=Shadow(shadow_id, 1.0, SINCE))
    counting = _Counting(shadow_id)
    monkeypatch.setattr(repository, "traffic_model", lambda _model_id: counting)
    shadow = traffic.Shadow(
        repository, queue_size=1000, texts_per_second=1000, scorer=_in_process(repository)
    )
    shadow.start()
    recorded = []

    for index in range(20):
        shadow.offer(repository.champion_id, [f"t{index}"], ["ham"], lambda *r: recorded.append(r))
        time.sleep(0.001)

    wait_until(lambda: len(recorded) == 20, 5, "the shadow's records")
    assert sum(counting.calls) == 20
    # One call per prediction would wake the thread 20 times, each costing more than a text.
    assert len(counting.calls) <= 5, counting.calls


def test_the_shadow_budget_skips_past_its_texts_a_second(repository, monkeypatch, written):
    shadow_id = str(uuid.uuid4())
    repository.traffic = Traffic(shadow=Shadow(shadow_id, 1.0, SINCE))
    counting = _Counting(shadow_id)
    monkeypatch.setattr(repository, "traffic_model", lambda _model_id: counting)
    shadow = traffic.Shadow(
        repository, queue_size=1000, texts_per_second=5, scorer=_in_process(repository)
    )
    shadow.start()
    recorded = []

    # The answer path only queues; the shadow's thread takes the budget.
    for name, count in (("six", 6), ("five", 5)):
        assert shadow.offer(
            repository.champion_id,
            ["t"] * count,
            ["x"] * count,
            lambda *r, name=name: recorded.append((name, *r)),
        )

    wait_until(lambda: len(recorded) == 2, 5, "the shadow's records")
    assert counting.calls == [5]
    # Past the budget, logged as without a shadow.
    assert sorted(recorded) == [("five", shadow_id, ["ham"] * 5), ("six", "", [])]


def test_batches_the_scorer_fails_are_logged_without_a_shadow_and_warned_of_once(
    repository, written, caplog
):
    repository.traffic = Traffic(shadow=Shadow(repository.candidate_id, 1.0, SINCE))

    def failing(_model_id, _texts):
        raise ScoringFailed("the scoring process ended (Ran out of input)")

    shadow = traffic.Shadow(repository, queue_size=100, texts_per_second=1000, scorer=failing)
    shadow.start()
    recorded = []
    with caplog.at_level(logging.WARNING, logger="algorithm.serving.traffic"):
        for batch in range(1, 4):
            assert shadow.offer(
                repository.champion_id, ["a", "b"], ["ham", "ham"], lambda *r: recorded.append(r)
            )
            wait_until(lambda batch=batch: len(recorded) == batch, 5, "the batch's record")
    assert recorded == [("", [])] * 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "algorithm.serving.traffic"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("The shadow did not score 2 texts (skipped, logged without")


def test_the_shadow_only_follows_the_active_version(repository):
    repository.traffic = Traffic(shadow=Shadow(str(uuid.uuid4()), 1.0, SINCE))
    shadow = traffic.Shadow(
        repository, queue_size=10, texts_per_second=10, scorer=_in_process(repository)
    )

    assert shadow.sample(repository.candidate_id, 3) == []
    repository.traffic = Traffic()
    assert shadow.sample(repository.champion_id, 3) == []


def test_the_log_keeps_every_disagreement_with_its_text_as_an_uncertain_one():
    policy = Policy(
        uncertain_below=0.6,
        margin_below=0.0,
        sample_rate=0.0,
        text_uncertain=FULL,
        text_sampled=HASH,
        text_bytes_per_minute=1 << 20,
    )

    assert policy.kept_because(0.9, 0.8, lambda: 1.0) is None
    assert policy.kept_because(0.9, 0.8, lambda: 1.0, disagreed=True) == DISAGREEMENT
    assert policy.kept_because(0.5, 0.1, lambda: 1.0, disagreed=True) == UNCERTAIN
    assert policy.text_mode(DISAGREEMENT) == FULL


def test_shares_name_each_role(repository):
    _with_canary(repository, percent=10)
    repository.traffic = Traffic(
        canary=repository.traffic.canary, shadow=Shadow(repository.candidate_id, 0.5, SINCE)
    )

    assert traffic.shares(repository) == [
        (repository.champion_id, "champion", pytest.approx(0.9)),
        (repository.candidate_id, "canary", pytest.approx(0.1)),
        (repository.candidate_id, "shadow", 0.5),
    ]
