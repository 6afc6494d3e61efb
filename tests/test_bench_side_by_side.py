"""bench.context.side_by_side interleaves the runs it compares, rotating their order each
repetition, and keeps every repetition beside the median; the tables show their range."""

from bench import report
from bench.context import side_by_side


def _figure(rps: float) -> dict:
    percentiles = {"50": rps / 100, "99": rps / 10}
    return {
        "requests": int(rps),
        "seconds": 1.0,
        "rps": rps,
        "errors": 0,
        "p50_ms": percentiles["50"],
        "p99_ms": percentiles["99"],
        "percentiles_ms": percentiles,
    }


def test_order_rotates_and_every_repetition_is_kept_with_its_range_printed():
    order = []
    rates = {
        "a": iter([100.0, 300.0, 200.0]),
        "b": iter([50.0, 60.0, 70.0]),
        "c": iter([1.0, 2.0, 3.0]),
    }

    def run(name):
        def measured():
            order.append(name)
            return _figure(next(rates[name]))

        return measured

    figures = side_by_side({name: run(name) for name in "abc"}, repetitions=3)

    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [run["rps"] for run in figures["a"]["runs"]] == [100.0, 300.0, 200.0]
    assert figures["a"]["rps"] == 200.0
    assert figures["a"]["repetitions"] == 3
    table = report.peers_table(
        {"8": {"a": {**figures["a"], "cpu": {}}, "b": {**figures["b"], "cpu": {}}}}
    )
    assert "200 (100-300)" in table
    assert "0.6 (0.5-0.7)" in table
