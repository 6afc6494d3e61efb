"""ModelRepository: the active version is watched and swapped in; bad ones never replace good
ones."""

import collections
import time
from concurrent import futures

import pytest

from algorithm.domain import ml
from algorithm.domain.errors import FailedPrecondition
from algorithm.serving.model_repository import ModelRepository
from tests.support import wait_until

POLL_SECONDS = 0.05


@pytest.fixture
def loads(store, monkeypatch):
    """How many times the store loaded each version (successfully or not)."""
    counter = collections.Counter()
    real_load = store.load

    def counting_load(model_id):
        counter[model_id] += 1
        return real_load(model_id)

    monkeypatch.setattr(store, "load", counting_load)
    return counter


@pytest.fixture
def make_server(store):
    servers = []

    def make(cache_size=3):
        server = ModelRepository(store, poll_seconds=POLL_SECONDS, cache_size=cache_size)
        servers.append(server)
        return server

    yield make
    # The watcher thread cannot be stopped: park it so it stops touching this test's folder.
    for server in servers:
        server.poll_seconds = 3600


def _serving(server, model_id):
    active = server.active
    return active is not None and active.model_id == model_id


def _tamper(store, model_id):
    # A changed pickle under a good manifest: activation (which checks the signature) lets
    # it through, and only the load, which checks the checksums, can refuse it.
    with (store.root / model_id / "model.pickle").open("ab") as stream:
        stream.write(b"tampered")


def test_no_model_fails_the_precondition(make_server):
    server = make_server()
    with pytest.raises(FailedPrecondition) as caught:
        server.get()
    assert caught.value.message.startswith("No model has been trained yet")
    assert server.active is None
    assert server.last_refusal is None


def test_an_activated_version_is_served(store, publish, make_server, tiny_model, loads):
    server = make_server()
    server.start()
    model_id = publish()
    store.activate(model_id)
    wait_until(lambda: _serving(server, model_id), timeout=5, what="serving the version")
    model = server.get()
    assert model.model_id == model_id
    texts = ["olur", "hayır", ""]
    assert ml.predict(model.vectorizer, model.classifier, texts) == ml.predict(
        tiny_model.vectorizer, tiny_model.classifier, texts
    )
    for _ in range(5):
        assert server.get() is model
    assert loads == {model_id: 1}


def test_get_loads_the_active_version_itself_before_the_watcher_runs(store, publish, make_server):
    model_id = publish()
    store.activate(model_id)
    server = make_server()
    assert server.get().model_id == model_id


def test_activating_a_second_version_swaps_within_a_second(store, publish, make_server):
    server = make_server()
    first, second = publish(), publish()
    store.activate(first)
    assert server.get().model_id == first
    store.activate(second)
    wait_until(lambda: _serving(server, second), timeout=1.0, what="swap to the second version")
    assert server.get().model_id == second
    assert server.last_refusal is None


def test_a_tampered_version_is_refused_and_the_previous_one_keeps_serving(
    store, publish, make_server, loads
):
    server = make_server()
    good, tampered = publish(), publish()
    store.activate(good)
    assert server.get().model_id == good
    store.activate(tampered)
    _tamper(store, tampered)  # damaged on the volume after its activation
    wait_until(
        lambda: server.last_refusal is not None, timeout=5, what="the refusal being recorded"
    )
    assert loads[tampered] >= 1
    assert server.get().model_id == good
    assert server.active.model_id == good
    assert tampered in server.last_refusal
    assert "checksum of model.pickle" in server.last_refusal


def test_refresh_refuses_a_tampered_active_version_without_raising(store, publish, make_server):
    server = make_server()
    good, tampered = publish(), publish()
    store.activate(good)
    server.refresh()
    assert server.active.model_id == good
    store.activate(tampered)
    _tamper(store, tampered)  # damaged on the volume after its activation
    server.refresh()  # must refuse quietly: the watcher treats an exception as a failed refresh
    assert server.active.model_id == good
    assert server.last_refusal is not None
    assert tampered in server.last_refusal


def test_a_refusal_is_cleared_once_a_good_version_is_activated(store, publish, make_server):
    server = make_server()
    good, tampered, fixed = publish(), publish(), publish()
    store.activate(good)
    assert server.get().model_id == good
    store.activate(tampered)
    _tamper(store, tampered)  # damaged on the volume after its activation
    store.activate(fixed)
    wait_until(lambda: _serving(server, fixed), timeout=5, what="serving the fixed version")
    assert server.last_refusal is None


def test_a_named_version_is_loaded_once(publish, make_server, loads):
    server = make_server()
    model_id = publish()
    first = server.get(model_id)
    assert first.model_id == model_id
    assert server.get(model_id) is first
    assert server.get(model_id.upper()) is first
    assert loads == {model_id: 1}


def test_a_tampered_named_version_fails_the_precondition(store, publish, make_server):
    server = make_server()
    model_id = publish()
    _tamper(store, model_id)
    with pytest.raises(FailedPrecondition) as caught:
        server.get(model_id)
    assert caught.value.message.startswith(f"Model {model_id} failed its integrity checks")


def test_the_cache_stays_bounded_and_evicts_the_least_recently_used(publish, make_server, loads):
    server = make_server(cache_size=2)
    first, second, third = publish(), publish(), publish()
    for model_id in (first, second, third):
        server.get(model_id)
        assert len(server._cache) <= 2
    assert list(server._cache) == [second, third]
    server.get(third)
    server.get(second)
    assert loads == {first: 1, second: 1, third: 1}
    server.get(first)  # evicted: loaded again, pushing out the least recently used (third)
    assert loads == {first: 2, second: 1, third: 1}
    assert list(server._cache) == [second, first]
    assert len(server._cache) == 2


def test_concurrent_first_requests_for_a_version_share_one_load(
    store, publish, make_server, loads, monkeypatch
):
    server = make_server()
    good, tampered = publish(), publish()
    _tamper(store, tampered)
    counting_load = store.load

    def slow_load(model_id):
        time.sleep(0.3)  # every request below arrives while the first load is under way
        return counting_load(model_id)

    monkeypatch.setattr(store, "load", slow_load)

    def get(model_id):
        try:
            return server.get(model_id)
        except FailedPrecondition as error:
            return error.message

    with futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(get, [good] * 8 + [tampered] * 8))

    assert loads == {good: 1, tampered: 1}
    assert all(answer is answers[0] for answer in answers[:8])
    assert all(answer.startswith(f"Model {tampered} failed") for answer in answers[8:])


def test_a_version_is_held_while_cached_or_active_and_holding_never_loads(
    store, publish, make_server, loads
):
    server = make_server(cache_size=2)
    active, first, second, unloaded = publish(), publish(), publish(), publish()
    store.activate(active)
    server.start()
    wait_until(lambda: _serving(server, active), timeout=5, what="serving the active version")
    server.get(first)
    server.get(second)
    assert list(server._cache) == [first, second]  # the active one pushed out; it still answers
    assert [server.holds(v) for v in (active, first, second, unloaded)] == [True, True, True, False]
    assert loads[unloaded] == 0
