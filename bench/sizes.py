"""How much each run measures: --smoke (seconds, so the suite cannot rot), the default
(under ten minutes), --full (the large tables)."""

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
    # Processes of `mlflow models serve` (None: as many as web's gunicorn runs).
    mlflow_workers: int | None = None
    # Sections left out of a run at these sizes (unless named with --only).
    skipped_sections: tuple[str, ...] = ()


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
    # The default algorithm makes the naive peer's large model; sgd_hashing has a target.
    job_algorithms=("linear_svm", "sgd_hashing"),
    mlflow_workers=1,
    # The peers need their own environments (`make peers`), minutes to create.
    skipped_sections=("peers",),
)
DEFAULT = Sizes(
    name="default",
    repetitions=3,
    latency_seconds=2,
    load_seconds=3,
    concurrencies=(1, 8, 32),
    batch_sizes=(1, 10, 100, 1000),
    text_lengths=(10, 100, 1000, 10000),
    data_rows=(100_000,),
    train_call_rows=(1_000, 100_000),
    growth_train_rows=(1_000, 3_000, 10_000, 30_000),
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
)
