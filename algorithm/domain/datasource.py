"""Read the web app's ``data`` table for training: raw SQL, one consistent snapshot, streamed.

While an evaluation set is current (algorithm/domain/evaluation_sets.py), its rows are left
out of every read and read apart, in the same snapshot, for the trained version to be
measured on; so are rows added since the set last considered new rows for joining, which
wait for the next training. Without a set, the queries are those of before sets existed.
"""

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

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
class HeldOutRows:
    """The current evaluation set's (text, label) rows, in id order."""

    set_id: str
    texts: list[str]
    labels: list[str]


@dataclass
class LabelledRows:
    texts: list[str]
    labels: list[str]
    # Identifies what was read: the row count, highest id and latest update of the snapshot.
    snapshot: DataSnapshot
    # The evaluation set's rows, left out of texts and labels; None without a current set.
    held_out: HeldOutRows | None = None


@dataclass
class LabelledStream:
    # Rows per label, from the same snapshot as the batches.
    label_counts: dict[str, int]
    snapshot: DataSnapshot
    # Each call reads the table again, as batches of (text, label): the same rows in the
    # same order every time.
    batches: Callable[[], Iterator[list[tuple[str, str]]]]
    held_out: HeldOutRows | None = None


@dataclass
class _Snapshot:
    conn: psycopg2.extensions.connection
    identity: DataSnapshot
    # The WHERE clause that leaves the evaluation set out; empty without one.
    rows_filter: sql.Composable
    held_out: HeldOutRows | None


def read_labelled_rows(on_progress: Progress) -> LabelledRows:
    """All (text, label) rows, in id order; on_progress(rows_read, rows_total) per batch."""
    with _snapshot() as found:
        snapshot = found.identity
        on_progress(0, snapshot["rows"])
        rows = _CopiedRows(lambda read: on_progress(read, snapshot["rows"]))
        # COPY sends the rows as lines of text, which cost less to take apart here than the
        # tuples a cursor builds per row (1.3 to 1.8 times the rows per second on 100,000
        # rows). Every row is kept anyway, so nothing is gained by streaming them.
        with found.conn.cursor() as cursor:
            cursor.copy_expert(
                sql.SQL(
                    f"COPY (SELECT {_TEXT}, {_LABEL} FROM {DATA_TABLE} {{where}} ORDER BY {_ID})"
                    " TO STDOUT"
                ).format(where=found.rows_filter),
                rows,
            )
        if len(rows.texts) % BATCH_ROWS:
            on_progress(len(rows.texts), snapshot["rows"])
    return LabelledRows(rows.texts, rows.labels, snapshot, found.held_out)


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
    with _snapshot() as found:
        snapshot = found.identity
        with found.conn.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    f"SELECT {_LABEL}, count(*) FROM {DATA_TABLE} {{where}} "
                    f"GROUP BY {_LABEL} ORDER BY {_LABEL}"
                ).format(where=found.rows_filter)
            )
            label_counts = dict(cursor.fetchall())
        on_progress(0, snapshot["rows"])
        yield LabelledStream(
            label_counts,
            snapshot,
            lambda: _batches(found, _MIXED_ORDER, on_progress),
            found.held_out,
        )


@contextlib.contextmanager
def _snapshot() -> Iterator[_Snapshot]:
    """A read-only repeatable-read transaction, what identifies the rows it sees, and the
    evaluation set's rows as it sees them.

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
                rows_filter, held_out = _evaluation_set(cursor)
                cursor.execute(
                    sql.SQL(
                        f"SELECT count(*), max({_ID}), max({_UPDATED_AT}) FROM {DATA_TABLE} "
                        "{where}"
                    ).format(where=rows_filter)
                )
                total, max_id, last_update = db.fetch_one(cursor)
            identity: DataSnapshot = {
                "rows": total,
                "max_id": max_id,
                "last_update": last_update.isoformat() if last_update else None,
            }
            yield _Snapshot(conn, identity, rows_filter, held_out)
    finally:
        conn.close()


def _evaluation_set(
    cursor: psycopg2.extensions.cursor,
) -> tuple[sql.Composable, HeldOutRows | None]:
    """The filter that leaves the current evaluation set out of the rows read, and its rows."""
    cursor.execute("SELECT id, synced_data_id FROM evaluation_sets WHERE retire_time IS NULL")
    current = cursor.fetchone()
    if current is None:
        return sql.SQL(""), None
    set_id, synced_data_id = current
    rows = _CopiedRows(lambda read: None)
    # COPY, as the training rows are read, for the same reason.
    cursor.copy_expert(
        sql.SQL(
            f"COPY (SELECT d.{_TEXT}, d.{_LABEL} FROM {DATA_TABLE} d "
            f"JOIN evaluation_set_rows e ON e.data_id = d.{_ID} "
            f"WHERE e.set_id = {{set_id}} ORDER BY d.{_ID}) TO STDOUT"
        ).format(set_id=sql.Literal(str(set_id))),
        rows,
    )
    held_out = HeldOutRows(str(set_id), rows.texts, rows.labels)
    # An anti-join on the set's primary key. Rows past synced_data_id have not been
    # considered for joining the set yet: training them now could put in a later set a
    # row a version learned from.
    rows_filter = sql.SQL(
        f"WHERE {_ID} <= {{synced}} AND NOT EXISTS (SELECT 1 FROM evaluation_set_rows e "
        f"WHERE e.set_id = {{set_id}} AND e.data_id = {DATA_TABLE}.{_ID})"
    ).format(synced=sql.Literal(synced_data_id), set_id=sql.Literal(str(set_id)))
    return rows_filter, held_out


def _batches(
    found: _Snapshot, order_by: str, on_progress: Progress
) -> Iterator[list[tuple[str, str]]]:
    # A named cursor streams from the server instead of loading the table at once.
    with found.conn.cursor(name="training_rows") as rows:
        rows.itersize = BATCH_ROWS
        rows.execute(
            sql.SQL(
                f"SELECT {_TEXT}, {_LABEL} FROM {DATA_TABLE} {{where}} ORDER BY {order_by}"
            ).format(where=found.rows_filter)
        )
        rows_read, total = 0, found.identity["rows"]
        while batch := rows.fetchmany(BATCH_ROWS):
            rows_read += len(batch)
            on_progress(rows_read, total)
            yield batch
