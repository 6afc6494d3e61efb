"""Data files for the command line: every row read and checked by the rules of
POST /api/data/import/, and which file a model was trained on."""

import datetime
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from algorithm.domain.records import DataSnapshot
from common.datafiles import DataImportError, RowError, check_row, format_from_name, read_rows

# Problems named in the error line; the count of invalid rows covers them all.
REPORTED_ROW_ERRORS = 5


class DatasetError(Exception):
    """A dataset cannot be used; the message says where and what to fix."""


@dataclass
class Dataset:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    # The line of the file each row starts on.
    lines: list[int] = field(default_factory=list)


def read_dataset(path: Path, *, labelled: bool = True) -> Dataset:
    """Every row of a data file, checked as the REST API checks rows; DatasetError if any
    row is invalid, naming the first few by line."""
    format = format_from_name(path.name)
    if format is None:
        raise DatasetError(
            f"{path}: cannot tell the format from the file name; "
            "name it .csv, .tsv, .jsonl or .ndjson."
        )
    dataset = Dataset()
    rows = invalid_rows = 0
    errors: list[RowError] = []
    try:
        with path.open("rb") as stream:
            for line, fields in read_rows(stream=stream, format=format):
                rows += 1
                if isinstance(fields, RowError):
                    problems = [fields]
                else:
                    values, errors_by_field = check_row(fields, labelled=labelled)
                    problems = [
                        RowError(line, name, message)
                        for name, messages in errors_by_field.items()
                        for message in messages
                    ]
                    if not problems:
                        dataset.lines.append(line)
                        dataset.texts.append(values["text"])
                        if labelled:
                            dataset.labels.append(values["label"])
                if problems:
                    invalid_rows += 1
                    errors.extend(problems[: REPORTED_ROW_ERRORS - len(errors)])
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror}.") from error
    except DataImportError as error:
        raise DatasetError(f"{path}: {error.message}") from error
    if invalid_rows:
        listed = " ".join(_describe(error) for error in errors)
        raise DatasetError(
            f"{path}: {invalid_rows} of {rows} rows are invalid. {listed} Fix them and run again."
        )
    if not dataset.texts:
        raise DatasetError(f"{path}: the file has no data rows.")
    return dataset


def _describe(error: RowError) -> str:
    where = f"Line {error.line}, {error.field}" if error.field else f"Line {error.line}"
    return f"{where}: {error.message}"


def data_snapshot(path: Path, rows: int) -> DataSnapshot:
    """Which data a model saw: the worker's keys (the file has no ids), and the file."""
    with path.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    modified = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    return {
        "rows": rows,
        "max_id": None,
        "last_update": modified.isoformat(),
        "file": str(path.resolve()),
        "sha256": digest,
    }
