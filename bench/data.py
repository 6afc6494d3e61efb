"""Training data: the SMS Spam Collection, and larger tables made from it by repeating it
with small perturbations, loaded through the web app's own import path, or written with COPY
as months of use leave the table (sources and creation times of every kind)."""

import csv
import datetime
import io
import itertools
import pathlib
import random
from collections.abc import Iterable, Iterator, Sequence

import psycopg2
import psycopg2.extensions

from bench.stack import Stack
from tests import support

SMS_FILE = support.DATA_DIR / "sms_spam.tsv"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def sms_rows() -> list[tuple[str, str]]:
    return [(row["text"], row["label"]) for row in support.read_tsv(SMS_FILE.name)]


def _perturb(text: str, rng: random.Random) -> str:
    """A near copy: a dropped or swapped word, and sometimes a typo, as real data repeats."""
    words = text.split()
    if len(words) > 3:
        index = rng.randrange(len(words) - 1)
        if rng.random() < 0.5:
            del words[index]
        else:
            words[index], words[index + 1] = words[index + 1], words[index]
    if words and rng.random() < 0.3:
        index = rng.randrange(len(words))
        word = words[index]
        position = rng.randrange(len(word))
        words[index] = word[:position] + rng.choice(_LETTERS) + word[position + 1 :]
    return " ".join(words) or text


def perturbed_rows(count: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    """`count` rows: the SMS set once as it is, then perturbed copies of it."""
    base = sms_rows()
    rng = random.Random(seed)
    for index in range(count):
        text, label = base[index % len(base)]
        yield (text if index < len(base) else _perturb(text, rng)), label


def write_tsv(rows: Iterator[tuple[str, str]], path: pathlib.Path) -> pathlib.Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(
            stream, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n"
        )
        writer.writerow(("label", "text"))
        writer.writerows((label, text) for text, label in rows)
    return path


def load_table(stack: Stack, rows: int) -> None:
    """Make the data table hold `rows` rows, imported as `import_data` (the API's import) does."""
    with psycopg2.connect(stack.env["DATABASE_URL"]) as conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE data CASCADE")
    conn.close()
    path = write_tsv(perturbed_rows(rows), stack.workdir / f"data-{rows}.tsv")
    stack.run(f"python -m web.manage import_data {path}")
    path.unlink()


# Rows made into CSV text at a time, while PostgreSQL takes in the ones before (one COPY
# for the whole table: the server's work on one core, making the rows on the other).
COPY_CHUNK_ROWS = 5_000
# Where the rows of a table filled as used came from, and how often (web's data.Source).
SOURCE_SHARES = (("import", 0.6), ("api", 0.25), ("review", 0.1), ("feedback", 0.05))


class _CsvStream:
    """The rows as CSV text, made as COPY reads it (psycopg2's copy_expert reads a file)."""

    def __init__(self, rows: Iterable[Sequence[str]]) -> None:
        self._rows = iter(rows)
        self.count = 0
        self.error: BaseException | None = None

    def read(self, _size: int = -1) -> str:
        try:
            chunk = list(itertools.islice(self._rows, COPY_CHUNK_ROWS))
        except BaseException as error:
            # psycopg2 reports it as a cancelled COPY; the caller needs the original.
            self.error = error
            raise
        self.count += len(chunk)
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(chunk)
        return buffer.getvalue()


def copy_csv(
    cursor: psycopg2.extensions.cursor,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    null: Sequence[str] = (),
) -> int:
    """Write the rows into the table with one COPY, every value quoted (so that "" stays an
    empty string), but in the `null` columns, where "" is NULL; the number of rows written."""
    force_null = f", FORCE_NULL ({', '.join(null)})" if null else ""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{force_null})"
    stream = _CsvStream(rows)
    try:
        cursor.copy_expert(sql, stream)
    except psycopg2.Error:
        if stream.error is not None:
            raise stream.error from None
        raise
    return stream.count


def spread_times(count: int, days: float, seed: int = 0) -> Iterator[datetime.datetime]:
    """`count` times over the last `days` days, oldest first, as rows arrive: evenly, with
    some jitter."""
    rng = random.Random(seed)
    now = datetime.datetime.now(datetime.UTC)
    step = datetime.timedelta(days=days) / max(count, 1)
    start = now - datetime.timedelta(days=days)
    for index in range(count):
        yield min(now, start + step * (index + rng.random()))


def fill_table(stack: Stack, rows: int, days: float, seed: int = 0) -> dict[str, int]:
    """Make the data table hold `rows` rows as weeks of use leave it: perturbed SMS texts
    with their labels, from every source (SOURCE_SHARES), created over the last `days`
    days, ids in the order of creation. The rows by source."""
    rng = random.Random(seed)
    sources, weights = zip(*SOURCE_SHARES, strict=True)
    by_source = dict.fromkeys(sources, 0)

    def lines() -> Iterator[tuple[str, ...]]:
        times = spread_times(rows, days, seed)
        for (text, label), created in zip(perturbed_rows(rows, seed), times, strict=True):
            source = rng.choices(sources, weights)[0]
            by_source[source] += 1
            yield text, label, source, created.isoformat(), created.isoformat()

    with psycopg2.connect(stack.env["DATABASE_URL"]) as conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE data CASCADE")
        copy_csv(cursor, "data", ("text", "label", "source", "created_at", "updated_at"), lines())
    conn.close()
    return by_source


def settle(stack: Stack, *tables: str) -> None:
    """VACUUM ANALYZE the tables, as autovacuum leaves tables that have been in use: the
    planner's statistics made, the visibility map set."""
    conn = psycopg2.connect(stack.env["DATABASE_URL"])
    try:
        conn.autocommit = True  # VACUUM runs outside a transaction
        with conn.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")
    finally:
        conn.close()
