"""Read the web app's ``data`` table for training: raw SQL, one consistent snapshot, streamed."""

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg2.extensions

from algorithm.domain import db
from algorithm.domain.records import DataSnapshot

# Web's `data` table as this module reads it: its SQL takes every name from here, and
# tests/test_data_table_contract.py holds them to web's model and its latest migration, so a
# migration that renames a column fails there, not in a training job.
DATA_TABLE = "data"
DATA_COLUMNS = ("id", "text", "label", "updated_at")
_ID, _TEXT, _LABEL, _UPDATED_AT = DATA_COLUMNS

BATCH_ROWS = 10_000
# The streaming order. SGD learns from rows in the order they come, and a table filled one
# label at a time would teach it one label and then the other (SMS hold-out accuracy 0.83
# instead of 0.97). A hash of the id mixes the labels, the same way on every pass;
# PostgreSQL sorts on its side, spilling to disk, so the worker still holds one batch.
_MIXED_ORDER = f"md5({_ID}::text)"

Progress = Callable[[int, int], None]


@dataclass
class LabelledRows:
    texts: list[str]
    labels: list[str]
    # Identifies what was read: the row count, highest id and latest update of the snapshot.
    snapshot: DataSnapshot


@dataclass
class LabelledStream:
    # Rows per label, from the same snapshot as the batches.
    label_counts: dict[str, int]
    snapshot: DataSnapshot
    # Each call reads the table again, as batches of (text, label): the same rows in the
    # same order every time.
    batches: Callable[[], Iterator[list[tuple[str, str]]]]


def read_labelled_rows(on_progress: Progress) -> LabelledRows:
    """All (text, label) rows, in id order; on_progress(rows_read, rows_total) per batch."""
    with _snapshot() as (conn, snapshot):
        on_progress(0, snapshot["rows"])
        rows = _CopiedRows(lambda read: on_progress(read, snapshot["rows"]))
        # COPY sends the rows as lines of text, which cost less to take apart here than the
        # tuples a cursor builds per row (1.3 to 1.8 times the rows per second on 100,000
        # rows). Every row is kept anyway, so nothing is gained by streaming them.
        with conn.cursor() as cursor:
            cursor.copy_expert(
                f"COPY (SELECT {_TEXT}, {_LABEL} FROM {DATA_TABLE} ORDER BY {_ID}) TO STDOUT", rows
            )
        if len(rows.texts) % BATCH_ROWS:
            on_progress(len(rows.texts), snapshot["rows"])
    return LabelledRows(rows.texts, rows.labels, snapshot)


# COPY's text format escapes a backslash and these control characters, and nothing else.
_COPY_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_COPY_UNESCAPED = {"\\": "\\", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _copy_field(field: str) -> str:
    if "\\" not in field:
        return field
    return _COPY_ESCAPE.sub(lambda match: _COPY_UNESCAPED[match.group(1)], field)


class _CopiedRows:
    """Where COPY writes its lines, one row each: kept as the texts and labels lists."""

    def __init__(self, on_progress: Callable[[int], None]):
        self.texts: list[str] = []
        self.labels: list[str] = []
        self._on_progress = on_progress

    def write(self, line: bytes) -> None:
        text, label = line[:-1].decode().split("\t")
        self.texts.append(_copy_field(text))
        self.labels.append(_copy_field(label))
        if len(self.texts) % BATCH_ROWS == 0:
            self._on_progress(len(self.texts))


@contextlib.contextmanager
def open_labelled_stream(on_progress: Progress) -> Iterator[LabelledStream]:
    """The rows as batches that can be read several times, for as long as this is open.

    on_progress(rows_read, rows_total) per batch, rows_read counting from 0 on each pass.
    """
    with _snapshot() as (conn, snapshot):
        with conn.cursor() as cursor:
            cursor.execute(
                f"SELECT {_LABEL}, count(*) FROM {DATA_TABLE} GROUP BY {_LABEL} ORDER BY {_LABEL}"
            )
            label_counts = dict(cursor.fetchall())
        on_progress(0, snapshot["rows"])
        yield LabelledStream(
            label_counts,
            snapshot,
            lambda: _batches(conn, _MIXED_ORDER, snapshot["rows"], on_progress),
        )


@contextlib.contextmanager
def _snapshot() -> Iterator[tuple[psycopg2.extensions.connection, DataSnapshot]]:
    """A read-only repeatable-read transaction, and what identifies the rows it sees.

    Every query in it sees the same rows, whatever is written meanwhile.
    """
    # The COPY reader decodes what it is sent as UTF-8.
    conn = db.connect(client_encoding="UTF8")
    try:
        conn.set_session(
            isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
        )
        with conn:
            with conn.cursor() as cursor:
                cursor.execute(f"SELECT count(*), max({_ID}), max({_UPDATED_AT}) FROM {DATA_TABLE}")
                total, max_id, last_update = db.fetch_one(cursor)
            yield (
                conn,
                {
                    "rows": total,
                    "max_id": max_id,
                    "last_update": last_update.isoformat() if last_update else None,
                },
            )
    finally:
        conn.close()


def _batches(
    conn: psycopg2.extensions.connection, order_by: str, total: int, on_progress: Progress
) -> Iterator[list[tuple[str, str]]]:
    # A named cursor streams from the server instead of loading the table at once.
    with conn.cursor(name="training_rows") as rows:
        rows.itersize = BATCH_ROWS
        rows.execute(f"SELECT {_TEXT}, {_LABEL} FROM {DATA_TABLE} ORDER BY {order_by}")
        rows_read = 0
        while batch := rows.fetchmany(BATCH_ROWS):
            rows_read += len(batch)
            on_progress(rows_read, total)
            yield batch
