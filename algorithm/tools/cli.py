"""Train, evaluate and try models on data files, without the rest of the stack.

  python -m algorithm.tools.cli train --dataset=PATH [--algorithm NAME] [--param NAME=VALUE ...]
  python -m algorithm.tools.cli evaluate --dataset=PATH [--model-id ID]
  python -m algorithm.tools.cli predict (--text TEXT | --dataset=PATH) [--model-id ID]
  python -m algorithm.tools.cli warmup [--model-id ID]

A dataset is a CSV, TSV or JSON-lines file (.csv, .tsv, .jsonl or .ndjson) with a text
and a label column, read and checked by the same rules as POST /api/data/import/. Predict
reads only the texts (a CSV or TSV header still names both columns). Models live in
MODEL_DIR (or --model-dir), written as the worker writes them: train publishes a signed
version and makes it active, and the algorithm service serves it from there. No
database, Redis or worker is needed.

Output is a few lines for people; --json prints one JSON document instead (predict
--dataset prints JSON lines, one per text). Errors are one line on stderr that starts
with "error: ".

Exit codes:
  0  success
  2  usage error: unknown command or option, a bad --param, a --model-id that is no UUID
  3  bad input data: an unreadable file, invalid rows, too few labels or rows per label
  4  model not found, or no model trained yet
  5  the model failed its integrity checks (signature, checksums, scikit-learn version)
"""

import argparse
import datetime
import hashlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from algorithm import settings
from algorithm.domain import ml
from algorithm.domain.errors import InvalidArgument, NotFound
from algorithm.domain.records import ConfusionMatrix, DataSnapshot, Scores
from algorithm.domain.store import ModelIntegrityError, ModelStore, parse_model_id
from algorithm.tools.local_classifier import TextClassifier
from common.coalescing import Scored
from common.credentials import MissingSecret
from common.datafiles import DataImportError, RowError, check_row, format_from_name, read_rows

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BAD_DATA = 3
EXIT_NO_MODEL = 4
EXIT_INTEGRITY = 5

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


# Rows


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


# Commands

Command = Callable[[TextClassifier, argparse.Namespace], None]


def train(classifier: TextClassifier, args: argparse.Namespace) -> None:
    dataset = read_dataset(args.dataset)
    try:
        manifest = classifier.train(
            dataset.texts,
            dataset.labels,
            algorithm=args.algorithm,
            parameters=dict(args.param),
            data_snapshot=data_snapshot(args.dataset, len(dataset.texts)),
        )
    except ml.TrainingDataError as error:
        raise DatasetError(f"{args.dataset}: {error}") from error
    if args.json:
        _print_json(manifest)
        return
    parameters = ", ".join(f"{name}={value}" for name, value in manifest["parameters"].items())
    metrics = manifest["metrics"]
    print(
        f"Trained model {manifest['model_id']} ({manifest['algorithm']}, {parameters}) "
        f"on {manifest['row_count']} rows in {manifest['training_seconds']:.1f} s."
    )
    print(f"Hold-out of {metrics['test_rows']} rows: {_summary(metrics)}")
    _print_per_label(metrics)
    print(f"It is the active model in {classifier.store.root}.")


def evaluate(classifier: TextClassifier, args: argparse.Namespace) -> None:
    dataset = read_dataset(args.dataset)
    result = classifier.evaluate(dataset.texts, dataset.labels, args.model_id)
    if args.json:
        _print_json(result)
        return
    metrics = result["metrics"]
    print(f"Model {result['model_id']} on {result['row_count']} rows of {args.dataset}:")
    print(_summary(metrics))
    _print_per_label(metrics)
    _print_confusion_matrix(metrics["confusion_matrix"])


def predict(classifier: TextClassifier, args: argparse.Namespace) -> None:
    if args.text is not None:
        _, errors = check_row({"text": args.text}, labelled=False)
        if errors:
            raise DatasetError(f"--text: {' '.join(errors['text'])}")
        (prediction,) = classifier.predict([args.text], args.model_id)
        if args.json:
            _print_json(prediction)
        else:
            print(_prediction_line(prediction))
        return
    dataset = read_dataset(args.dataset, labelled=False)
    predictions = classifier.predict(dataset.texts, args.model_id)
    for line, prediction in zip(dataset.lines, predictions, strict=True):
        if args.json:
            _print_json({"line": line, **prediction})
        else:
            print(_prediction_line(prediction))


def warmup(classifier: TextClassifier, args: argparse.Namespace) -> None:
    manifest = classifier.warmup(args.model_id)
    if args.json:
        _print_json(manifest)
        return
    versions = ", ".join(
        f"{name} {version}" for name, version in manifest["library_versions"].items()
    )
    print(
        f"Model {manifest['model_id']} is ready: signature, checksums and scikit-learn "
        "version verified, one prediction made."
    )
    print(
        f"{manifest['algorithm']}, labels {', '.join(manifest['labels'])}; trained "
        f"{manifest['created_time']} on {manifest['row_count']} rows; "
        f"{_summary(manifest['metrics'])}"
    )
    print(f"Trained with {versions}.")


def _summary(metrics: Scores) -> str:
    return f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}"


def _print_per_label(metrics: Scores) -> None:
    width = max(len(label) for label in metrics["per_label"])
    for label, scores in metrics["per_label"].items():
        print(
            f"  {label:<{width}}  precision {scores['precision']:.4f}  recall "
            f"{scores['recall']:.4f}  F1 {scores['f1']:.4f}  support {scores['support']}"
        )


def _print_confusion_matrix(matrix: ConfusionMatrix) -> None:
    labels, rows = matrix["labels"], matrix["rows"]
    print("Confusion matrix (a row per true label, a column per predicted label):")
    name_width = max(len(label) for label in labels)
    count_width = max(len(str(count)) for row in rows for count in row)
    widths = [max(len(label), count_width) for label in labels]
    print(
        " " * (name_width + 4)
        + "  ".join(f"{lb:>{w}}" for lb, w in zip(labels, widths, strict=True))
    )
    for label, row in zip(labels, rows, strict=True):
        cells = "  ".join(f"{count:>{w}}" for count, w in zip(row, widths, strict=True))
        print(f"  {label:<{name_width}}  {cells}")


def _prediction_line(prediction: Scored) -> str:
    return f"{prediction['label']}\t{prediction['scores'][prediction['label']]:.4f}"


def _print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False))


# Arguments


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def _model_id(value: str) -> str:
    try:
        return parse_model_id(value)
    except InvalidArgument as error:
        raise argparse.ArgumentTypeError(error.message.rstrip(".")) from None


def _parameter(value: str) -> tuple[str, int | float | str]:
    name, equals, text = value.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    # A number where it reads as one; anything else goes on for resolve_parameters to refuse.
    for number in (int, float):
        try:
            return name, number(text)
        except ValueError:
            pass
    return name, text


def _add_common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # Accepted before and after the command. After it, no defaults: a subcommand's default
    # would overwrite a value given before the command.
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None if defaults else argparse.SUPPRESS,
        metavar="PATH",
        help=f"where the model versions are (default: MODEL_DIR, now {settings.MODEL_DIR})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="print one JSON document (JSON lines for predict --dataset)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m algorithm.tools.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common_options(parser, defaults=True)
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, run: Command, help: str, epilog: str = "") -> argparse.ArgumentParser:
        subparser = commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common_options(subparser, defaults=False)
        subparser.set_defaults(run=run)
        return subparser

    dataset_help = "a .csv, .tsv, .jsonl or .ndjson file with text and label columns"
    model_id_help = "the model version to use (default: the active one)"

    algorithms = "\n".join(
        f"  {algorithm.name}: "
        + ", ".join(f"{parameter.name}={parameter.default}" for parameter in algorithm.parameters)
        for algorithm in ml.ALGORITHMS.values()
    )
    sub = command(
        "train",
        train,
        "train a model version on a file and make it active",
        f"algorithms and their parameters' defaults:\n{algorithms}",
    )
    sub.add_argument("--dataset", type=Path, required=True, metavar="PATH", help=dataset_help)
    sub.add_argument(
        "--algorithm",
        choices=list(ml.ALGORITHMS),
        default=ml.DEFAULT_ALGORITHM,
        metavar="NAME",
        help="one of %(choices)s (default: %(default)s)",
    )
    sub.add_argument(
        "--param",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an algorithm parameter, such as C=2.0; repeat for more",
    )

    sub = command("evaluate", evaluate, "score a model version on a labelled file")
    sub.add_argument("--dataset", type=Path, required=True, metavar="PATH", help=dataset_help)
    sub.add_argument("--model-id", type=_model_id, metavar="ID", help=model_id_help)

    sub = command("predict", predict, "classify a text, or every text of a file")
    texts = sub.add_mutually_exclusive_group(required=True)
    texts.add_argument("--text", help="the text to classify")
    texts.add_argument(
        "--dataset", type=Path, metavar="PATH", help=f"{dataset_help}; prints a line per text"
    )
    sub.add_argument("--model-id", type=_model_id, metavar="ID", help=model_id_help)

    sub = command("warmup", warmup, "load and verify a model version, and make one prediction")
    sub.add_argument("--model-id", type=_model_id, metavar="ID", help=model_id_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    classifier = TextClassifier(ModelStore(args.model_dir))
    try:
        args.run(classifier, args)
    except DatasetError as error:
        return fail(EXIT_BAD_DATA, str(error))
    except InvalidArgument as error:
        return fail(EXIT_USAGE, error.message)
    except NotFound as error:
        return fail(EXIT_NO_MODEL, error.message)
    except ModelIntegrityError as error:
        return fail(EXIT_INTEGRITY, f"the model failed its integrity checks: {error}.")
    except MissingSecret as error:
        # No default key: one anybody knows would let anybody sign a model this loads.
        return fail(EXIT_USAGE, str(error))
    return EXIT_OK


def fail(code: int, message: str) -> int:
    """Say what went wrong on stderr; the exit code for main to return."""
    print(f"error: {message}", file=sys.stderr)
    return code


def run() -> int:
    """The `textclf` console script, and `python -m algorithm.tools.cli`."""
    # Die quietly when the reader goes away (`... predict --dataset=big.csv | head`), as
    # other command-line tools do, rather than with a BrokenPipeError traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return main()


if __name__ == "__main__":
    sys.exit(run())
