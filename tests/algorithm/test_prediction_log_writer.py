"""The prediction log's writer against PostgreSQL: batches written with COPY, texts exactly as
given; a full queue, a database that is down and a connection that breaks drop records and
count them, never raising into the answer path, and writing resumes by itself."""

import logging
import threading
import time
import uuid

import psycopg2
import pytest

from algorithm.domain import prediction_log_writer
from algorithm.domain.prediction_log import FULL, Policy
from algorithm.domain.prediction_log_writer import DROPPED, WRITTEN, PredictionLog
from common import settings as common_settings
from common.coalescing import INTERNAL, Origin
from tests import support

KEY = "the-deployment-key"
# Every prediction kept, with its text.
KEEP_ALL = Policy(
    uncertain_below=0.6,
    margin_below=0.0,
    sample_rate=1.0,
    text_uncertain=FULL,
    text_sampled=FULL,
    text_bytes_per_minute=8 << 20,
)
MODEL_ID = "5d9f0c8e-2b1a-4f3e-8c7d-6e5f4a3b2c1d"
CERTAIN = ("ham", {"ham": 0.9, "spam": 0.1})


class Counted:
    """The records each outcome was told of, call by call."""

    def __init__(self):
        self.calls: list[tuple[str, int]] = []

    def __call__(self, outcome: str, count: int) -> None:
        self.calls.append((outcome, count))

    def total(self, outcome: str) -> int:
        return sum(count for name, count in self.calls if name == outcome)


class Connections:
    """The writer's connections, each opened when `gate` is set (at once unless told to
    wait), closed after the test so that none outlives the test database."""

    def __init__(self):
        self.opened: list[psycopg2.extensions.connection] = []
        self.asked = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self):
        self.asked.set()
        assert self.gate.wait(10)
        connection = prediction_log_writer.connect()
        self.opened.append(connection)
        return connection

    def close(self):
        for connection in self.opened:
            connection.close()


@pytest.fixture
def connections():
    made = Connections()
    yield made
    made.close()


def started(connections, counted, **options) -> PredictionLog:
    log = PredictionLog(
        options.pop("policy", KEEP_ALL),
        queue_size=options.pop("queue_size", 10_000),
        counted=counted,
        connect=connections,
        **options,
    )
    log.start(KEY)
    return log


def record(log: PredictionLog, texts: list[str], origins=None) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in texts]
    log.record(MODEL_ID, texts, [CERTAIN] * len(texts), ids, origins or [INTERNAL] * len(texts))
    return ids


def logged(database_url: str, ids: list[str]) -> dict[str, dict]:
    connection = psycopg2.connect(database_url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT id::text, model_id::text, label, scores, caller, request_id, reference, "
                "text, text_hash, kept_because FROM predictions WHERE id = ANY(%s::uuid[])",
                (ids,),
            )
            names = [column.name for column in cursor.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    finally:
        connection.close()


def test_records_are_written_in_batches_of_at_most_a_thousand(database_url, connections):
    counted = Counted()
    connections.gate.clear()
    log = started(connections, counted)
    # What CSV and COPY could take apart: quotes, separators, line breaks, the end marker.
    tricky = 'a "quoted", text\twith\r\nbreaks\n\\.\nand ğü ünicode'

    ids = record(log, [tricky], [Origin("ticket-1", "token:ab12", "req-1")])
    assert connections.asked.wait(5)  # the writer holds its first batch
    ids += record(log, [f"text {i}" for i in range(2_499)])
    connections.gate.set()
    support.wait_until(lambda: counted.total(WRITTEN) == 2_500, 10, "every record written")

    assert counted.total(DROPPED) == 0
    assert max(count for _, count in counted.calls) == 1_000
    assert len(counted.calls) <= 4
    rows = logged(database_url, ids)
    assert len(rows) == 2_500
    assert rows[ids[0]] == {
        "id": ids[0],
        "model_id": MODEL_ID,
        "label": "ham",
        "scores": {"ham": 0.9, "spam": 0.1},
        "caller": "token:ab12",
        "request_id": "req-1",
        "reference": "ticket-1",
        "text": tricky,
        "text_hash": "",
        "kept_because": "sampled",
    }
    assert rows[ids[1]]["caller"] == "internal"
    assert rows[ids[1]]["text"] == "text 0"


def test_a_full_queue_drops_and_counts_without_raising(database_url, connections, caplog):
    counted = Counted()
    connections.gate.clear()
    log = started(connections, counted, queue_size=3)

    first = record(log, ["first"])
    assert connections.asked.wait(5)
    with caplog.at_level(logging.WARNING, logger=prediction_log_writer.__name__):
        queued = record(log, [f"text {i}" for i in range(10)])

    assert counted.calls == [(DROPPED, 1)] * 7
    connections.gate.set()
    support.wait_until(lambda: counted.total(WRITTEN) == 4, 10, "the queued records written")
    assert set(logged(database_url, first + queued)) == {*first, *queued[:3]}
    # One warning for all seven: at most one a minute.
    assert [record.getMessage() for record in caplog.records] == [
        "The prediction log dropped records: 1 as the queue was full. Their predictions were "
        "answered, but are not in the log; the next warning comes in 60 s at the earliest."
    ]


def test_a_database_that_is_down_drops_and_counts_without_raising(monkeypatch):
    down = f"postgres://postgres@127.0.0.1:{support.free_port()}/textclf"
    monkeypatch.setattr(common_settings, "DATABASE_URL", down)
    counted = Counted()
    log = started(Connections(), counted, retry_seconds=0.05)

    for dropped in (2, 4, 6):
        record(log, ["hello", "world"])
        support.wait_until(
            lambda expected=dropped: counted.total(DROPPED) == expected, 5, "a batch dropped"
        )

    assert counted.total(WRITTEN) == 0


def test_a_broken_connection_drops_its_batch_then_the_writer_connects_again(
    database_url, connections
):
    counted = Counted()
    log = started(connections, counted, retry_seconds=0.2)
    before = record(log, ["before"])
    support.wait_until(lambda: counted.total(WRITTEN) == 1, 5, "the first record written")
    killer = psycopg2.connect(database_url)
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(%s)", (connections.opened[0].get_backend_pid(),)
        )
    killer.close()

    lost = record(log, ["lost"])
    support.wait_until(lambda: counted.total(DROPPED) == 1, 5, "the batch on it dropped")
    time.sleep(0.3)  # past the pause after a failure
    after = record(log, ["after"])
    support.wait_until(lambda: counted.total(WRITTEN) == 2, 5, "a record written again")

    assert len(connections.opened) == 2
    assert set(logged(database_url, before + lost + after)) == {*before, *after}
