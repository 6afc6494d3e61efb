"""The training data path on large tables: the worker's read against COPY and pandas, each
algorithm's peak memory over a whole job, and the Train call's latency.

The Celery worker is stopped for this section: jobs run one at a time in child processes
(so each one's peak memory is its own), and the Train calls only queue jobs."""

import json
import statistics
import subprocess
import sys
import time

from algorithm.domain import ml
from algorithm.v1 import training_pb2, training_pb2_grpc
from bench import data
from bench.context import Context
from bench.stack import REPO_ROOT
from bench.targets import Target, at_least, at_most
from tests import support

TRAIN_CALLS = 20


def _child(ctx: Context, *arguments: str) -> dict:
    env = {**ctx.stack.env, "PATH": f"{support.VENV_BIN}:{ctx.stack.env['PATH']}"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.child", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=4 * 3600,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(f"bench.child {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")


def _train_call_ms(ctx: Context) -> float:
    """Median latency of the Train call: it queues a job and must answer at once."""
    with support.service_channel(ctx.stack.grpc_target()) as channel:
        stub = training_pb2_grpc.TrainingServiceStub(channel)
        timings = []
        for _ in range(TRAIN_CALLS):
            start = time.perf_counter()
            stub.Train(training_pb2.TrainRequest(algorithm="naive_bayes"), timeout=10)
            timings.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(timings), 3)


def _load(ctx: Context, rows: int) -> dict:
    start = time.perf_counter()
    data.load_table(ctx.stack, rows)
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "import_seconds": round(seconds, 2),
        "import_rows_per_s": round(rows / seconds),
    }


def run(ctx: Context) -> tuple[dict, list[Target]]:
    stack, sizes = ctx.stack, ctx.sizes
    stack.stop("algorithm_celery")
    figures: dict = {"tables": {}, "train_call_ms": {}}
    sizes_to_load = sorted(set(sizes.data_rows) | set(sizes.train_call_rows))
    for rows in sizes_to_load:
        table = _load(ctx, rows)
        if rows in sizes.train_call_rows:
            figures["train_call_ms"][str(rows)] = _train_call_ms(ctx)
        if rows in sizes.data_rows:
            table["read_rows_per_s"] = _child(ctx, "read", str(sizes.repetitions))
            algorithms = sizes.job_algorithms or tuple(ml.ALGORITHMS)
            table["jobs"] = {name: _child(ctx, "train", name) for name in algorithms}
        figures["tables"][str(rows)] = table
    # The queued Train calls must not run when a worker comes back.
    support.delete_redis_keys(f"{stack.env['REDIS_KEY_PREFIX']}celery")
    first = str(sizes.data_rows[0])
    large = figures["tables"][first]["jobs"][ml.DEFAULT_ALGORITHM]["model_id"]
    ctx.name_model("large", large, int(first))
    return figures, _targets(figures, sizes)


def _targets(figures: dict, sizes) -> list[Target]:
    targets = []
    for rows in map(str, sizes.data_rows):
        read = figures["tables"][rows]["read_rows_per_s"]
        targets += [
            at_least(
                f"Worker read vs COPY, {rows} rows",
                read["worker_read"],
                0.5 * read["copy_floor"],
                "rows/s",
                "0.5 x COPY to a null sink",
            ),
            at_least(
                f"Worker read vs pandas.read_sql, {rows} rows",
                read["worker_read"],
                read["pandas_read_sql"],
                "rows/s",
                "1 x pandas.read_sql",
            ),
        ]
    if len(sizes.data_rows) > 1:
        small, large = map(str, sizes.data_rows[:2])
        memory = {
            rows: figures["tables"][rows]["jobs"]["sgd_hashing"]["peak_rss_mb"]
            for rows in (small, large)
        }
        targets.append(
            at_most(
                f"sgd_hashing peak memory, {large} vs {small} rows",
                memory[large],
                1.5 * memory[small],
                "MB",
                f"1.5 x at {small} rows",
            )
        )
    few, many = map(str, (min(sizes.train_call_rows), max(sizes.train_call_rows)))
    calls = figures["train_call_ms"]
    targets.append(
        at_most(
            f"Train call latency, {many} vs {few} rows",
            calls[many],
            1.5 * calls[few],
            "ms",
            f"1.5 x at {few} rows",
        )
    )
    return targets
