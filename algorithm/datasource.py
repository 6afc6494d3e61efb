"""Read the web app's ``data`` table for training: raw SQL, one consistent snapshot, streamed."""

from collections.abc import Callable
from dataclasses import dataclass

import psycopg2.extensions

from algorithm import db

BATCH_ROWS = 10_000


@dataclass
class LabelledRows:
    texts: list[str]
    labels: list[str]
    # Identifies what was read: the row count, highest id and latest update of the snapshot.
    snapshot: dict


def read_labelled_rows(on_progress: Callable[[int, int], None]) -> LabelledRows:
    """All (text, label) rows, in id order; on_progress(rows_read, rows_total) per batch."""
    conn = db.connect()
    try:
        # One repeatable-read transaction: the count and the rows come from the same snapshot,
        # whatever is written meanwhile.
        conn.set_session(
            isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True
        )
        with conn:
            with conn.cursor() as cursor:
                cursor.execute("SELECT count(*), max(id), max(updated_at) FROM data")
                total, max_id, last_update = cursor.fetchone()
            on_progress(0, total)
            texts: list[str] = []
            labels: list[str] = []
            # A named cursor streams from the server instead of loading the table at once.
            with conn.cursor(name="training_rows") as rows:
                rows.itersize = BATCH_ROWS
                rows.execute("SELECT text, label FROM data ORDER BY id")
                while batch := rows.fetchmany(BATCH_ROWS):
                    for text, label in batch:
                        texts.append(text)
                        labels.append(label)
                    on_progress(len(texts), total)
    finally:
        conn.close()
    snapshot = {
        "rows": total,
        "max_id": max_id,
        "last_update": last_update.isoformat() if last_update else None,
    }
    return LabelledRows(texts, labels, snapshot)
