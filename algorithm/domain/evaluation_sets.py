"""The frozen evaluation set, in ``evaluation_sets`` and ``evaluation_set_rows``: rows of web's
``data`` table that training leaves out (algorithm/domain/datasource.py) and every version is
measured on, so that a challenger and the champion compare on the same rows.

At most one set is current. Replacing or deleting it retires it and deletes its rows; its
record stays, so the manifests that name it still resolve. New review and feedback rows may
join the current set as they come (new_rows_share), each by a seeded hash of its id, so
whichever training syncs first makes the same choice.
"""

import random
import uuid
from collections import defaultdict
from typing import cast

import psycopg2.extras

from algorithm.domain import db
from algorithm.domain.datasource import DATA_TABLE, HeldOutRows
from algorithm.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from algorithm.domain.records import EvaluationSet
from common import limits

# The columns of web's `data` table this module reads (tests/test_data_table_contract.py).
DATA_COLUMNS = ("id", "text", "label", "source")
# Where a row came from (web.data.models.Source): only these may join a set as they come.
JOINING_SOURCES = ("review", "feedback")
METHODS = ("fraction", "ids")
_UNKNOWN_IDS_SHOWN = 10
_SET_COLUMNS = (
    "id, create_time, retire_time, method, fraction, stratified, seed, new_rows_share, "
    "synced_data_id, row_count"
)


def _share(value: object, name: str, *, low_open: bool, high_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name} must be a number, got {value!r}.")
    number = float(value)
    low_ok = number > 0 if low_open else number >= 0
    high_ok = number < 1 if high_open else number <= 1
    if not (low_ok and high_ok):
        bounds = (
            f"{'above' if low_open else 'at least'} 0 and {'below' if high_open else 'at most'} 1"
        )
        raise InvalidArgument(f"{name} must be {bounds}, got {value!r}.")
    return number


def set_create(
    *,
    method: object,
    fraction: object = None,
    stratified: object = True,
    seed: object = 0,
    new_rows_share: object = 0.0,
    data_ids: object = None,
) -> EvaluationSet:
    """Make a new current set, retiring the one before: a fraction of the data table
    (stratified by label: each label's share rounded, at least one row of every label that
    has two), or the rows with the given data ids."""
    if method not in METHODS:
        raise InvalidArgument(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or abs(seed) >= 2**63:
        raise InvalidArgument(f"seed must be a whole number, got {seed!r}.")
    if not isinstance(stratified, bool):
        raise InvalidArgument(f"stratified must be true or false, got {stratified!r}.")
    share = _share(new_rows_share, "new_rows_share", low_open=False, high_open=False)
    set_id = uuid.uuid4()
    with db.transaction() as cursor:
        # One writer at a time: the current set is replaced, never doubled.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('evaluation_sets'))")
        cursor.execute(f"SELECT coalesce(max(id), 0) AS top FROM {DATA_TABLE}")
        top = db.fetch_one(cursor)["top"]
        if method == "fraction":
            part = _share(fraction, "fraction", low_open=True, high_open=True)
            chosen = _fraction(cursor, part, stratified, seed)
        else:
            part = None
            chosen = _known_ids(cursor, data_ids)
        if not chosen:
            raise FailedPrecondition(
                "The data table has no rows to make an evaluation set of; add labelled rows "
                "(POST /api/data/) first."
            )
        _retire(cursor)
        cursor.execute(
            "INSERT INTO evaluation_sets (id, method, fraction, stratified, seed, "
            "new_rows_share, synced_data_id, row_count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (set_id, method, part, stratified, seed, share, top, len(chosen)),
        )
        psycopg2.extras.execute_values(
            cursor,
            "INSERT INTO evaluation_set_rows (set_id, data_id) VALUES %s",
            [(set_id, data_id) for data_id in sorted(chosen)],
            page_size=5_000,
        )
        # The anti-join that leaves the set out of training plans on the new rows' figures,
        # not on an empty table's (autovacuum would take a while to count them).
        cursor.execute("ANALYZE evaluation_set_rows")
    found = set_current()
    if found is None:  # replaced by another caller meanwhile
        raise FailedPrecondition("The evaluation set was replaced meanwhile; read it again.")
    return found


def _fraction(
    cursor: psycopg2.extras.RealDictCursor, fraction: float, stratified: bool, seed: int
) -> list[int]:
    cursor.execute(f"SELECT id, label FROM {DATA_TABLE} ORDER BY id")
    by_label: dict[str, list[int]] = defaultdict(list)
    for row in cursor.fetchall():
        by_label[row["label"] if stratified else ""].append(row["id"])
    chosen_ids: list[int] = []
    for label in sorted(by_label):
        ids = by_label[label]
        random.Random(f"{seed}:{label}").shuffle(ids)
        # At least one of every label that has two rows, never a label's last row.
        count = min(max(round(fraction * len(ids)), 1), len(ids) - 1)
        chosen_ids.extend(ids[:count])
    return chosen_ids


def _known_ids(cursor: psycopg2.extras.RealDictCursor, data_ids: object) -> list[int]:
    if not isinstance(data_ids, list) or not data_ids:
        raise InvalidArgument("data_ids must be a non-empty list of data row ids.")
    if len(data_ids) > limits.MAX_EVALUATION_ROWS:
        raise InvalidArgument(
            f"data_ids has {len(data_ids)} ids; a set holds at most {limits.MAX_EVALUATION_ROWS}."
        )
    if any(isinstance(value, bool) or not isinstance(value, int) for value in data_ids):
        raise InvalidArgument("data_ids must hold whole numbers only.")
    wanted = sorted(set(data_ids))
    cursor.execute(f"SELECT id FROM {DATA_TABLE} WHERE id = ANY(%s)", (wanted,))
    known = {row["id"] for row in cursor.fetchall()}
    unknown = [value for value in wanted if value not in known]
    if unknown:
        shown = ", ".join(str(value) for value in unknown[:_UNKNOWN_IDS_SHOWN])
        more = (
            f" and {len(unknown) - _UNKNOWN_IDS_SHOWN} more"
            if len(unknown) > _UNKNOWN_IDS_SHOWN
            else ""
        )
        raise InvalidArgument(f"These data ids are not in the data table: {shown}{more}.")
    return wanted


def _retire(cursor: psycopg2.extras.RealDictCursor) -> bool:
    cursor.execute(
        "UPDATE evaluation_sets SET retire_time = now() WHERE retire_time IS NULL RETURNING id"
    )
    retired = cursor.fetchone()
    if retired is not None:
        cursor.execute("DELETE FROM evaluation_set_rows WHERE set_id = %s", (retired["id"],))
    return retired is not None


def set_delete() -> None:
    """Retire the current set: training reads every row again."""
    with db.transaction() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('evaluation_sets'))")
        if not _retire(cursor):
            raise NotFound("There is no current evaluation set.")


def set_current() -> EvaluationSet | None:
    """The current set with what its rows hold now, or None."""
    with db.transaction() as cursor:
        cursor.execute(f"SELECT {_SET_COLUMNS} FROM evaluation_sets WHERE retire_time IS NULL")
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute(
            f"SELECT d.label, count(*) AS n FROM {DATA_TABLE} d "
            "JOIN evaluation_set_rows e ON e.data_id = d.id WHERE e.set_id = %s "
            "GROUP BY d.label ORDER BY d.label",
            (row["id"],),
        )
        counts = {found["label"]: found["n"] for found in cursor.fetchall()}
    return cast(EvaluationSet, {**row, "rows": sum(counts.values()), "label_counts": counts})


def set_required() -> EvaluationSet:
    """The current set; FailedPrecondition without one, saying how to make it."""
    found = set_current()
    if found is None:
        raise FailedPrecondition(
            "There is no evaluation set: create one first (POST /api/evaluation-set/ with "
            '{"method": "fraction", "fraction": 0.2}), so that versions compare on the same rows.'
        )
    return found


def sync_current() -> None:
    """Let the review and feedback rows added since the last sync join the current set, each
    with probability new_rows_share; the set then counts them as considered. Run before a
    training reads the data table (datasource leaves out rows not considered yet)."""
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT id, seed, new_rows_share, synced_data_id FROM evaluation_sets "
            "WHERE retire_time IS NULL FOR UPDATE"
        )
        current = cursor.fetchone()
        if current is None:
            return
        cursor.execute(f"SELECT coalesce(max(id), 0) AS top FROM {DATA_TABLE}")
        top = db.fetch_one(cursor)["top"]
        if top <= current["synced_data_id"]:
            return
        if current["new_rows_share"] > 0:
            # The first 32 bits of a seeded md5 of the id, as a number in [0, 1).
            cursor.execute(
                f"""
                INSERT INTO evaluation_set_rows (set_id, data_id)
                SELECT %(set_id)s, id FROM {DATA_TABLE}
                WHERE id > %(after)s AND id <= %(top)s AND source = ANY(%(sources)s)
                  AND ('x' || substr(md5(%(seed)s || ':' || id), 1, 8))::bit(32)::bigint
                      / 4294967296.0 < %(share)s
                ON CONFLICT DO NOTHING
                """,
                {
                    "set_id": current["id"],
                    "after": current["synced_data_id"],
                    "top": top,
                    "sources": list(JOINING_SOURCES),
                    "seed": str(current["seed"]),
                    "share": current["new_rows_share"],
                },
            )
        cursor.execute(
            "UPDATE evaluation_sets SET synced_data_id = %s WHERE id = %s", (top, current["id"])
        )


def read_current_rows() -> HeldOutRows | None:
    """The current set's (text, label) rows in id order, or None without a set."""
    with db.transaction() as cursor:
        cursor.execute("SELECT id FROM evaluation_sets WHERE retire_time IS NULL")
        current = cursor.fetchone()
        if current is None:
            return None
        cursor.execute(
            f"SELECT d.id, d.label, d.text FROM {DATA_TABLE} d "
            "JOIN evaluation_set_rows e ON e.data_id = d.id WHERE e.set_id = %s ORDER BY d.id",
            (current["id"],),
        )
        rows = cursor.fetchall()
    return HeldOutRows(
        str(current["id"]), [row["text"] for row in rows], [row["label"] for row in rows]
    )
