"""Run the benchmarks: ``python -m bench [--smoke | --full] [--out DIR]`` (``make bench``).

Starts the real services from the Procfile on their own database, trains a model on the SMS
Spam Collection, runs every section, prints the figures and the targets, and writes
latest.json and latest.png to the output folder. Every process it started is stopped at the
end, on error and on Ctrl-C too.
"""

import argparse
import datetime
import os
import pathlib
import signal
import sys
import time
import traceback

from bench import data, report
from bench.context import SAMPLE_TEXT, Context
from bench.sections import (
    console,
    data_path,
    explanations,
    growth,
    grpc_processes,
    hot_swap,
    learning,
    mlflow_serve,
    naive,
    peers,
    serving,
    traffic,
)
from bench.sizes import DEFAULT, FULL, SMOKE
from bench.stack import running_stack
from tests import support

RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"

# In order: the data section replaces the table and activates other models, so the sections
# that predict with the active SMS model come before it; the console section fills the data
# table and the prediction log to its sizes, so it comes last.
SECTIONS = (
    ("latency", serving.latency),
    ("throughput", serving.throughput),
    ("batch", serving.batch),
    ("explanations", explanations.run),
    ("inference_protocol", serving.inference_protocol),
    ("grpc_processes", grpc_processes.run),
    ("growth", growth.predict_latency),
    ("peers", peers.run),
    ("hot_swap", hot_swap.run),
    ("traffic", traffic.run),
    ("learning", learning.run),
    ("data", data_path.run),
    ("naive", naive.run),
    ("growth", growth.training_time),
    ("console", console.run),
)


def _stop_on_sigterm(_signum, _frame):
    raise KeyboardInterrupt


def prepare(ctx: Context) -> None:
    """The SMS set in the data table, imported as users import it, and a model trained on it
    by the worker, active and served."""
    rows = len(data.sms_rows())
    data.load_table(ctx.stack, rows)
    job = hot_swap.train_and_wait(ctx)
    ctx.name_model("sms", job["model_id"], rows)

    def served():
        answer = ctx.stack.api("POST", "/api/predict/", json={"text": SAMPLE_TEXT})
        return answer.ok and answer.json()["model_id"] == job["model_id"]

    support.wait_until(served, 30, "the SMS model being served")


def run_sections(ctx: Context, only: list[str]) -> tuple[list, list[str]]:
    targets, failed = [], []
    for name, section in SECTIONS:
        if (only and name not in only) or (not only and name in ctx.sizes.skipped_sections):
            continue
        started = time.monotonic()
        print(f"[bench] {name} ({section.__name__}) ...", flush=True)
        try:
            figures, section_targets = section(ctx)
        except Exception as error:
            traceback.print_exc()
            figures, section_targets = {"error": f"{type(error).__name__}: {error}"}, []
            failed.append(name)
        ctx.results.setdefault(name, {}).update(figures)
        targets += section_targets
        print(f"[bench] {name} done in {time.monotonic() - started:.0f} s", flush=True)
    return targets, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the large tables (1,000,000 rows)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS_DIR, help="output folder")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=sorted({name for name, _ in SECTIONS}),
        help="run this section only (repeatable; throughput needs latency's figures)",
    )
    args = parser.parse_args()
    sizes = FULL if args.full else SMOKE if args.smoke else DEFAULT
    os.environ.update(mlflow_serve.OFFLINE_ENV)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.monotonic()
    document = {
        "sizes": sizes.name,
        "machine": report.machine(),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    with running_stack() as stack:
        ctx = Context(stack, sizes)
        prepare(ctx)
        print(f"[bench] stack up, SMS model trained in {time.monotonic() - started:.0f} s")
        targets, failed = run_sections(ctx, args.only)
    document |= {
        "seconds": round(time.monotonic() - started, 1),
        "models": {
            name: {
                "model_id": ctx.models[name],
                "rows": ctx.model_rows[name],
                "runtime": ctx.model_runtimes[name],
            }
            for name in ctx.models
        },
        "sections": ctx.results,
        "targets": [target.as_dict() for target in targets],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(args.out / "latest.json", document)
    report.draw(args.out / "latest.png", {"sizes": sizes.name, **ctx.results})
    print(f"\n{document['machine']['line']}; sizes {sizes.name}; {document['seconds']:.0f} s\n")
    if "latency" in ctx.results:
        print(report.figures_table(ctx.results), "\n")
    peer_figures = ctx.results.get("peers", {})
    for sitting in ("shipped", "best"):
        if sitting in peer_figures:
            print(f"Peers, {sitting}:\n{report.peers_table(peer_figures[sitting])}\n")
    if "skipped" not in peer_figures.get("open_loop", {"skipped": ""}):
        print(f"Open loop:\n{report.open_loop_table(peer_figures['open_loop'])}\n")
    if "cpu_ms_per_prediction" in ctx.results.get("traffic", {}):
        print(f"Traffic:\n{report.traffic_table(ctx.results['traffic'])}\n")
    if "log_records" in ctx.results.get("learning", {}):
        print(f"Learning loop:\n{report.learning_table(ctx.results['learning'])}\n")
    if "pages" in ctx.results.get("console", {}):
        print(f"Console:\n{report.console_table(ctx.results['console'])}\n")
    for name, model in document["models"].items():
        check = model["runtime"] or {}
        print(
            f"{name} model ({model['rows']} rows): served by {check.get('name', 'scikit-learn')}; "
            f"{check.get('texts_compared', 0)} held-out texts compared with scikit-learn, "
            f"largest probability difference {check.get('max_abs_difference', 'n/a')}"
        )
    print(report.targets_table(targets))
    if failed:
        print(f"\nSections that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
