"""The prediction log's writer: a bounded queue and one daemon thread per process, which writes
the records the answer path hands it into web's `predictions` table, in batches, with COPY.

The answer path never waits for it: it puts each kept record with put_nowait, and when the
queue is full the record is dropped. When PostgreSQL fails a batch (down, unreachable,
refusing), that batch is dropped too, and so is every batch for RETRY_SECONDS after, so that
the queue keeps draining instead of holding texts for a database that is not there; then the
writer connects again. Nothing dropped is retried. Drops are counted (the `counted`
callback: the serving process's Prometheus counter) and logged at most once a minute.
"""

import collections
import csv
import io
import logging
import math
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence

import psycopg2
import psycopg2.extensions

from algorithm.domain import db
from algorithm.domain.prediction_log import (
    NULLABLE_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTIONS_TABLE,
    Policy,
    Record,
    Row,
    Rows,
    top_and_margin,
)
from common import settings as common_settings
from common.coalescing import Origin

logger = logging.getLogger(__name__)

# Records in one COPY.
BATCH_ROWS = 1_000
# How long a batch waits for more records after its first: a transaction (and its commit) per
# batch, so at most a few a second per process whatever the rate, instead of one per record.
FLUSH_SECONDS = 0.25
RETRY_SECONDS = 1.0
WARNING_SECONDS = 60.0
# The outcomes `counted` is told of, with a number of records.
WRITTEN = "written"
DROPPED = "dropped"

_COPY = (
    f"COPY {PREDICTIONS_TABLE} ({', '.join(PREDICTION_COLUMNS)}) FROM STDIN "
    f"WITH (FORMAT csv, FORCE_NULL ({', '.join(NULLABLE_COLUMNS)}))"
)

Counted = Callable[[str, int], None]
Connect = Callable[[], psycopg2.extensions.connection]


def connect() -> psycopg2.extensions.connection:
    """The writer's own connection, outside the pool the request threads share; its
    statements bounded as theirs are. Its commits do not wait for the disk: the log may lose
    its last moment of records if PostgreSQL crashes, as it drops records while PostgreSQL is
    down, and no prediction waits on it either way."""
    connection = db.connect(client_encoding="UTF8")
    milliseconds = round(common_settings.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000)
    with connection, connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = %s", (milliseconds,))
        cursor.execute("SET synchronous_commit = off")
    return connection


class _Drops:
    """Dropped records: counted at once, and logged at most once a WARNING_SECONDS, the
    reasons and counts gathered since the last warning."""

    def __init__(self, counted: Counted):
        self._counted = counted
        self._lock = threading.Lock()
        self._since_warning: collections.Counter[str] = collections.Counter()
        self._warned_at = -math.inf

    def add(self, count: int, reason: str) -> None:
        self._counted(DROPPED, count)
        with self._lock:
            self._since_warning[reason] += count
            now = time.monotonic()
            if now - self._warned_at < WARNING_SECONDS:
                return
            gathered, self._since_warning = self._since_warning, collections.Counter()
            self._warned_at = now
        logger.warning(
            "The prediction log dropped records: %s. Their predictions were answered, but are "
            "not in the log; the next warning comes in %g s at the earliest.",
            "; ".join(f"{count} as {reason}" for reason, count in gathered.items()),
            WARNING_SECONDS,
        )


class PredictionLog:
    """One per serving process: `start` it once the process runs (after any fork), then
    `record` every batch of predictions; before `start`, in a process of its own, `record`
    keeps nothing."""

    def __init__(
        self,
        policy: Policy,
        *,
        queue_size: int,
        counted: Counted,
        connect: Connect = connect,
        batch_rows: int = BATCH_ROWS,
        retry_seconds: float = RETRY_SECONDS,
        flush_seconds: float = FLUSH_SECONDS,
    ):
        self.policy = policy
        self._queue_size = queue_size
        self._counted = counted
        self._connect = connect
        self._batch_rows = batch_rows
        self._retry_seconds = retry_seconds
        self._flush_seconds = flush_seconds
        self._drops = _Drops(counted)
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._records: queue.Queue[Record] = queue.Queue(queue_size)

    def start(self, key: str) -> None:
        """Start this process's writer (idempotent), hashing texts with `key`. Threads do not
        survive a fork: a pre-forking server starts one in each process."""
        pid = os.getpid()
        with self._lock:
            if self._pid == pid:
                return
            self._records = queue.Queue(self._queue_size)
            threading.Thread(
                target=self._write,
                args=(self._records, Rows(key, self.policy)),
                name="prediction-log-writer",
                daemon=True,
            ).start()
            self._pid = pid

    def record(
        self,
        model_id: str,
        texts: Sequence[str],
        predictions: Sequence[tuple[str, dict[str, float]]],
        prediction_ids: Sequence[str],
        origins: Sequence[Origin],
        shadow_id: str = "",
        shadow_labels: Sequence[str] = (),
    ) -> None:
        """Hand the predictions the policy keeps to the writer; on the answer path (or the
        shadow's thread, with the shadow's labels), so it only decides and enqueues."""
        if self._pid != os.getpid():
            return
        created = time.time()
        for index, (text, (label, scores), prediction_id, origin) in enumerate(
            zip(texts, predictions, prediction_ids, origins, strict=True)
        ):
            shadow_label = shadow_labels[index] if shadow_labels else ""
            top, margin = top_and_margin(scores)
            disagreed = bool(shadow_label) and shadow_label != label
            kept_because = self.policy.kept_because(top, margin, random.random, disagreed)
            if kept_because is None:
                continue
            record = Record(
                prediction_id,
                created,
                model_id,
                label,
                scores,
                text,
                origin,
                kept_because,
                top,
                margin,
                shadow_id if shadow_label else "",
                shadow_label,
            )
            try:
                self._records.put_nowait(record)
            except queue.Full:
                self._drops.add(1, "the queue was full")

    def _write(self, records: queue.Queue[Record], rows: Rows) -> None:
        connection: psycopg2.extensions.connection | None = None
        retry_at = 0.0
        while True:
            batch = [records.get()]
            flush_at = time.monotonic() + self._flush_seconds
            while len(batch) < self._batch_rows:
                try:
                    batch.append(records.get(timeout=max(0.0, flush_at - time.monotonic())))
                except queue.Empty:
                    break
            if time.monotonic() < retry_at:
                self._drops.add(len(batch), "the database failed a moment before")
                continue
            try:
                connection = connection or self._connect()
                _copy(connection, [rows.row(record) for record in batch])
            except Exception as error:
                if connection is not None:
                    connection.close()
                connection = None
                retry_at = time.monotonic() + self._retry_seconds
                what = (
                    "the database failed" if isinstance(error, psycopg2.Error) else "writing failed"
                )
                detail = (str(error).strip().splitlines() or [""])[0]
                self._drops.add(len(batch), f"{what} ({type(error).__name__}: {detail})")
            else:
                self._counted(WRITTEN, len(batch))


def _copy(connection: psycopg2.extensions.connection, rows: list[Row]) -> None:
    """The rows in one transaction: all written, or none."""
    buffer = io.StringIO()
    # Every value quoted: an empty string stays one (unquoted, CSV reads it as NULL).
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    with connection, connection.cursor() as cursor:
        cursor.copy_expert(_COPY, buffer)
