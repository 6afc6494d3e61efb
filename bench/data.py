"""Training data: the SMS Spam Collection, and larger tables made from it by repeating it
with small perturbations, loaded through the web app's own import path."""

import csv
import pathlib
import random
from collections.abc import Iterator

import psycopg2

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
