"""Measurements that need a process of their own, run by the data section with the
stack's environment: ``python -m bench.child read REPETITIONS`` or
``python -m bench.child train ALGORITHM``. Each prints one ``BENCH_JSON {...}`` line."""

import json
import pathlib
import statistics
import sys
import time
import warnings

from algorithm.domain import db, jobs, ml, training
from algorithm.domain.datasource import DATA_TABLE, open_labelled_stream, read_labelled_rows


def _ignore_progress(_read: int, _total: int) -> None:
    pass


class _NullSink:
    """Where COPY writes: counts the bytes and keeps nothing."""

    def __init__(self):
        self.bytes = 0

    def write(self, chunk) -> int:
        self.bytes += len(chunk)
        return len(chunk)


def _worker_read() -> int:
    return len(read_labelled_rows(_ignore_progress).texts)


def _worker_stream_pass() -> int:
    with open_labelled_stream(_ignore_progress) as stream:
        return sum(len(batch) for batch in stream.batches())


# The floor readers ask for what training reads of web's `data` table.
DATA_COLUMNS = ("text", "label")
_SELECT_ROWS = f"SELECT {', '.join(DATA_COLUMNS)} FROM {DATA_TABLE}"


def _copy_floor() -> int:
    conn = db.connect()
    try:
        with conn.cursor() as cursor:
            cursor.copy_expert(f"COPY ({_SELECT_ROWS}) TO STDOUT", _NullSink())
            return cursor.rowcount
    finally:
        conn.close()


def _pandas_read_sql() -> int:
    # Imported here so that pandas is not in the training jobs' peak memory.
    import pandas as pd

    conn = db.connect()
    try:
        with warnings.catch_warnings():
            # pandas prefers SQLAlchemy but reads a DBAPI connection all the same.
            warnings.simplefilter("ignore", UserWarning)
            return len(pd.read_sql(_SELECT_ROWS, conn))
    finally:
        conn.close()


READERS = {
    "worker_read": _worker_read,
    "worker_stream_pass": _worker_stream_pass,
    "copy_floor": _copy_floor,
    "pandas_read_sql": _pandas_read_sql,
}


def read(repetitions: int) -> dict:
    """Rows per second of each reader, the median of interleaved repetitions."""
    rates: dict[str, list[float]] = {name: [] for name in READERS}
    rows = 0
    for _ in range(repetitions):
        for name, reader in READERS.items():
            start = time.perf_counter()
            rows = reader()
            rates[name].append(rows / (time.perf_counter() - start))
    return {"rows": rows, **{name: round(statistics.median(r)) for name, r in rates.items()}}


def _peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program.

    Not getrusage's ru_maxrss: Linux carries that over an exec from the process that forked
    this one, so every child would report at least the parent's size.
    """
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("/proc/self/status has no VmHWM line")


def train(algorithm: str) -> dict:
    """A whole training job, as the worker runs it; this process's peak memory."""
    job, _ = jobs.job_create(
        kind="train", algorithm=algorithm, parameters=ml.resolve_parameters(algorithm, {})
    )
    start = time.perf_counter()
    training.run_training_job(str(job["id"]))
    seconds = time.perf_counter() - start
    ended = jobs.job_get(job["id"])
    if ended["state"] != "succeeded":
        raise RuntimeError(f"{algorithm} training failed: {ended['error']}")
    return {
        "algorithm": algorithm,
        "model_id": str(ended["model_id"]),
        "seconds": round(seconds, 2),
        "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> None:
    command, argument = sys.argv[1:]
    result = read(int(argument)) if command == "read" else train(argument)
    print("BENCH_JSON", json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
