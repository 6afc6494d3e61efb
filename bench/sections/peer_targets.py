"""The peers section's targets: REST predict against each peer at its best, at every
concurrency, in closed and in open loop."""

from bench.targets import Target, at_least, at_most

# Each peer at its best, against which REST's targets are set, and its title.
BEST_PEERS = {
    "kserve_v1_best": "KServe V1 best",
    "bentoml_best": "BentoML best",
    "mlflow": "mlflow pyfunc",
}
# The serving peers measured in open loop too (mlflow's targets are its throughput and its
# CPU; KServe's V2 route, slower than its V1 at every load as shipped, is measured as shipped).
OPEN_LOOP_PEERS = ("kserve_v1_best", "bentoml_best")
# REST's CPU per request against KServe V1's at its best: lower under load; one call at a
# time, where nothing is batched and REST crosses two servers, within this factor.
CPU_C1_FACTOR = 1.2
# Against mlflow at the top concurrency: this many times its throughput, at most this part
# of its CPU per request.
MLFLOW_THROUGHPUT_FACTOR = 3
MLFLOW_CPU_SHARE = 1 / 3


def cpu_ms(figure: dict) -> float:
    """CPU ms per request of a path, every process of every server it goes through."""
    return sum(server["total_ms"] for server in figure["cpu"].values())


def _closed_loop(best: dict, concurrencies: tuple[int, ...]) -> list[Target]:
    found = []
    for concurrency in concurrencies:
        at = best[str(concurrency)]
        rest = at["rest_predict"]
        for peer, title in BEST_PEERS.items():
            served = at[peer]
            if concurrency == 1:
                found.append(
                    at_most(
                        f"REST vs {title} p50 c1",
                        rest["p50_ms"],
                        served["p50_ms"],
                        "ms",
                        f"{title} p50 (lower)",
                    )
                )
            else:
                found.append(
                    at_least(
                        f"REST vs {title} throughput c{concurrency}",
                        rest["rps"],
                        served["rps"],
                        "req/s",
                        f"{title} c{concurrency} (higher)",
                    )
                )
        factor = CPU_C1_FACTOR if concurrency == 1 else 1
        found.append(
            at_most(
                f"REST vs KServe V1 best CPU per request c{concurrency}",
                cpu_ms(rest),
                factor * cpu_ms(at["kserve_v1_best"]),
                "ms",
                f"{factor:g} x KServe V1 best (web + gRPC server against its workers)",
            )
        )
    top = str(max(concurrencies))
    rest, mlflow = best[top]["rest_predict"], best[top]["mlflow"]
    found += [
        at_least(
            f"REST vs mlflow pyfunc throughput c{top} ({MLFLOW_THROUGHPUT_FACTOR} x)",
            rest["rps"],
            MLFLOW_THROUGHPUT_FACTOR * mlflow["rps"],
            "req/s",
            f"{MLFLOW_THROUGHPUT_FACTOR} x mlflow pyfunc",
        ),
        at_most(
            f"REST vs mlflow pyfunc CPU per request c{top}",
            cpu_ms(rest),
            MLFLOW_CPU_SHARE * cpu_ms(mlflow),
            "ms",
            "1/3 of mlflow pyfunc's",
        ),
    ]
    return found


def _open_loop(open_loop: dict) -> list[Target]:
    found = []
    for peer, by_peer in open_loop.items():
        for share, at in by_peer["shares"].items():
            title = BEST_PEERS[peer]
            # A run where the generator fell behind its schedule measured itself too.
            behind = "" if at["rest_predict"]["valid"] and at[peer]["valid"] else "; LATE SENDS"
            found.append(
                at_most(
                    f"REST vs {title} p99, open loop at {float(share):.0%}",
                    at["rest_predict"]["p99_ms"],
                    at[peer]["p99_ms"],
                    "ms",
                    f"{title} p99 at {at['rate']:,.0f} req/s (lower){behind}",
                )
            )
    return found


def targets(figures: dict, concurrencies: tuple[int, ...]) -> list[Target]:
    return _closed_loop(figures["best"], concurrencies) + _open_loop(figures["open_loop"])
