"""The gRPC server's capacity settings: calls beyond its threads may wait, so the most calls
it holds must be above the threads, or it does not start."""

import importlib

import pytest

from algorithm import settings


@pytest.fixture
def reload_settings(monkeypatch):
    yield lambda: importlib.reload(settings)
    monkeypatch.undo()
    importlib.reload(settings)


def test_the_most_calls_default_to_four_times_the_threads(monkeypatch, reload_settings):
    monkeypatch.setenv("ALGORITHM_GRPC_THREADS", "8")
    monkeypatch.setenv("ALGORITHM_GRPC_MAX_CONCURRENT_RPCS", " ")
    assert reload_settings().GRPC_MAX_CONCURRENT_RPCS == 32


@pytest.mark.parametrize("maximum", ["16", "4"])
def test_the_most_calls_at_or_below_the_threads_stop_the_start(
    monkeypatch, reload_settings, maximum
):
    monkeypatch.setenv("ALGORITHM_GRPC_THREADS", "16")
    monkeypatch.setenv("ALGORITHM_GRPC_MAX_CONCURRENT_RPCS", maximum)
    with pytest.raises(ValueError) as refused:
        reload_settings()
    assert str(refused.value) == (
        f"ALGORITHM_GRPC_MAX_CONCURRENT_RPCS ({maximum}) must be above ALGORITHM_GRPC_THREADS "
        "(16): calls beyond the threads wait for one."
    )
