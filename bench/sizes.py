"""How much each run measures: --smoke (a few minutes, so the suite cannot rot), the default
(about 40 minutes on a 2-core machine, under 45: see DEFAULT), --full (the large tables)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    name: str
    repetitions: int
    # Length of one closed-loop run, for latency one call at a time and for throughput.
    latency_seconds: float
    load_seconds: float
    concurrencies: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    text_lengths: tuple[int, ...]
    # Rows of the large data tables (the naive peer's "large" model trains on the first).
    data_rows: tuple[int, ...]
    train_call_rows: tuple[int, ...]
    growth_train_rows: tuple[int, ...]
    hot_swap_concurrency: int = 16
    # Algorithms whose training jobs are measured (None: all of them).
    job_algorithms: tuple[str, ...] | None = None
    # The warm in-process loop (back to back calls), each repetition.
    floor_seconds: float = 1
    # The peers section: the runs its targets compare (REST, its variants, each peer at its
    # best), at every concurrency, and the open-loop runs at each share of the slower
    # server's capacity...
    peer_repetitions: int = 1
    peer_seconds: float = 1
    open_loop_shares: tuple[float, ...] = (0.5, 0.8)
    # ... and the peers as shipped, which carry no target.
    shipped_repetitions: int = 1
    shipped_seconds: float = 1
    # Sections left out of a run at these sizes (unless named with --only).
    skipped_sections: tuple[str, ...] = ()
    # The data table exported whole, at each size (the second's peak memory against the first's).
    export_rows: tuple[int, int] = (100_000, 1_000_000)
    # The traffic section's runs of each variant (its targets compare against their spread),
    # and its pairs of runs with the shadow on and off.
    traffic_repetitions: int = 5
    traffic_cpu_pairs: int = 8
    # The console section: rows in the data table and in the prediction log (issue 28's
    # sizes), the timed GETs of each page, and the versions it publishes up to (as many as
    # the Versions page's chart draws: its newest eight and the selected one).
    console_data_rows: int = 100_000
    console_log_rows: int = 1_000_000
    console_requests: int = 50
    console_versions: int = 9


SMOKE = Sizes(
    name="smoke",
    repetitions=1,
    latency_seconds=1,
    load_seconds=1,
    concurrencies=(1, 8),
    batch_sizes=(1, 10, 100, 1000),
    text_lengths=(10, 100, 1000, 10000),
    data_rows=(6_000,),
    train_call_rows=(1_000, 6_000),
    growth_train_rows=(500, 1_000, 2_000),
    export_rows=(1_000, 10_000),
    traffic_repetitions=2,
    traffic_cpu_pairs=2,
    console_data_rows=5_000,
    console_log_rows=20_000,
    console_requests=5,
    console_versions=2,
    # The default algorithm makes the naive peer's large model; sgd_hashing has a target.
    job_algorithms=("linear_svm", "sgd_hashing"),
    # The peers need their own environments (`make peers`), minutes to create.
    skipped_sections=("peers",),
)
# The budget on an idle 2-core machine: 41 minutes measured on an AMD EPYC, 34 on an Intel Xeon
# (2 cores each), the bar 45. On the EPYC, section by section:
# Starting the stack 0.5 min; latency 2.4, throughput 2.7, batch 2.5, inference protocol 1.9,
# grpc_processes 2.4, growth 2.2; peers 24.3: 6 paths (REST, its two variants, KServe V1 and
# BentoML at their best, mlflow) x 3 concurrencies x 5 x 10 s = 15 min, open loop 2 peers x
# 2 rates x 2 servers x 5 x 10 s = 6.7 min, the peers as shipped 4 paths x 3 concurrencies x
# 2 x 3 s = 1.2 min, the rest starting and warming the servers; hot_swap, data, naive 1.7;
# learning (added since, its exports of 100,000 and 1,000,000 rows included) about 3; console
# (added since: filling 100,000 rows and 1,000,000 logged predictions, then 50 GETs of each
# page) not yet measured at these sizes.
DEFAULT = Sizes(
    name="default",
    repetitions=3,
    latency_seconds=2,
    load_seconds=2,
    concurrencies=(1, 8, 32),
    batch_sizes=(1, 10, 100, 1000),
    text_lengths=(10, 100, 1000, 10000),
    data_rows=(100_000,),
    train_call_rows=(1_000, 100_000),
    growth_train_rows=(1_000, 3_000, 10_000, 30_000),
    floor_seconds=10,
    peer_repetitions=5,
    peer_seconds=10,
    shipped_repetitions=2,
    shipped_seconds=3,
)
FULL = Sizes(
    name="full",
    repetitions=5,
    latency_seconds=3,
    load_seconds=5,
    concurrencies=(1, 8, 32),
    batch_sizes=(1, 10, 100, 1000),
    text_lengths=(10, 100, 1000, 10000),
    data_rows=(100_000, 1_000_000),
    train_call_rows=(1_000, 1_000_000),
    growth_train_rows=(1_000, 3_000, 10_000, 30_000, 100_000, 300_000),
    floor_seconds=10,
    peer_repetitions=5,
    peer_seconds=10,
    shipped_repetitions=3,
    shipped_seconds=5,
)
