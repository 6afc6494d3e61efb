from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from common.datafiles import (
    FORMATS,
    MAX_REPORTED_ERRORS,
    DataImportError,
    DataImportFormat,
    RowError,
    format_from_name,
)
from web.data.services import DataImportInvalid, data_import


class Command(BaseCommand):
    help = (
        "Import labelled data from a CSV, TSV or JSON-lines file in one transaction, as "
        "POST /api/data/import/ does: all rows, or none if any is invalid."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--format", choices=FORMATS, help="By default, from the file name's extension."
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Insert the valid rows and skip the invalid ones instead of inserting nothing.",
        )

    def handle(
        self,
        *args: Any,
        path: Path,
        format: DataImportFormat | None,
        skip_invalid: bool,
        **options: Any,
    ) -> None:
        format = format or format_from_name(path.name)
        if format is None:
            raise CommandError(
                f"Cannot tell the format of {path.name!r} from its name: "
                "pass --format csv, tsv or jsonl."
            )
        try:
            with path.open("rb") as stream:
                # An operator's import is not a request: it may take as long as it needs.
                report = data_import(
                    stream=stream,
                    format=format,
                    skip_invalid=skip_invalid,
                    statement_timeout_seconds=0,
                )
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        except DataImportError as error:
            raise CommandError(f"{path}: {error.message} Nothing was imported.") from error
        except DataImportInvalid as error:
            self._write_errors(error.report.errors)
            advice = "" if error.none_valid else " Fix them, or pass --skip-invalid."
            raise CommandError(f"{path}: {error}, so nothing was imported.{advice}") from error
        self._write_errors(report.errors)
        self.stdout.write(
            f"Read {report.rows_read} rows from {path}: inserted {report.rows_inserted}, "
            f"skipped {report.rows_skipped}."
        )

    def _write_errors(self, errors: list[RowError]) -> None:
        for error in errors:
            where = f"line {error.line}" + (f", {error.field}" if error.field else "")
            self.stderr.write(f"{where}: {error.message}")
        if len(errors) >= MAX_REPORTED_ERRORS:
            self.stderr.write(f"(only the first {MAX_REPORTED_ERRORS} problems are listed)")
