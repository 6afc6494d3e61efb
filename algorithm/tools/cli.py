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
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from algorithm import settings
from algorithm.domain import ml
from algorithm.domain.errors import InvalidArgument, NotFound
from algorithm.domain.store import ModelIntegrityError, ModelStore, parse_model_id
from algorithm.tools import reports
from algorithm.tools.datasets import DatasetError, data_snapshot, read_dataset
from algorithm.tools.local_classifier import TextClassifier
from common.credentials import MissingSecret
from common.datafiles import check_row

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BAD_DATA = 3
EXIT_NO_MODEL = 4
EXIT_INTEGRITY = 5

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
        reports.print_json(manifest)
        return
    parameters = ", ".join(f"{name}={value}" for name, value in manifest["parameters"].items())
    metrics = manifest["metrics"]
    print(
        f"Trained model {manifest['model_id']} ({manifest['algorithm']}, {parameters}) "
        f"on {manifest['row_count']} rows in {manifest['training_seconds']:.1f} s."
    )
    print(f"Hold-out of {metrics['test_rows']} rows: {reports.summary(metrics)}")
    reports.print_per_label(metrics)
    print(f"It is the active model in {classifier.store.root}.")


def evaluate(classifier: TextClassifier, args: argparse.Namespace) -> None:
    dataset = read_dataset(args.dataset)
    result = classifier.evaluate(dataset.texts, dataset.labels, args.model_id)
    if args.json:
        reports.print_json(result)
        return
    metrics = result["metrics"]
    print(f"Model {result['model_id']} on {result['row_count']} rows of {args.dataset}:")
    print(reports.summary(metrics))
    reports.print_per_label(metrics)
    reports.print_confusion_matrix(metrics["confusion_matrix"])


def predict(classifier: TextClassifier, args: argparse.Namespace) -> None:
    if args.text is not None:
        _, errors = check_row({"text": args.text}, labelled=False)
        if errors:
            raise DatasetError(f"--text: {' '.join(errors['text'])}")
        (prediction,) = classifier.predict([args.text], args.model_id)
        if args.json:
            reports.print_json(prediction)
        else:
            print(reports.prediction_line(prediction))
        return
    dataset = read_dataset(args.dataset, labelled=False)
    predictions = classifier.predict(dataset.texts, args.model_id)
    for line, prediction in zip(dataset.lines, predictions, strict=True):
        if args.json:
            reports.print_json({"line": line, **prediction})
        else:
            print(reports.prediction_line(prediction))


def warmup(classifier: TextClassifier, args: argparse.Namespace) -> None:
    manifest = classifier.warmup(args.model_id)
    if args.json:
        reports.print_json(manifest)
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
        f"{reports.summary(manifest['metrics'])}"
    )
    print(f"Trained with {versions}.")


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
