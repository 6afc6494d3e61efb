"""The gRPC server with one process and with two on one port (ALGORITHM_GRPC_PROCESSES),
side by side on the SMS model: what a second core buys a replica, each process's CPU per
prediction, and each process's memory with the model loaded."""

import pathlib

from bench import load
from bench.context import SAMPLE_TEXT, Context, side_by_side, warm_up
from bench.cpu import CpuMeter, Server, descendants
from bench.targets import Target, at_least
from tests import support

PROCESS_COUNTS = (1, 2)
BATCH_TEXTS = 100
BATCH_CONCURRENCY = 8
SINGLE_CONCURRENCY = 32
# Two processes must do this much of the work of two single-process replicas.
SCALING = 1.7


def _memory_kib(pid: int) -> dict[str, int]:
    """Resident and proportional set size (shared pages split among their users)."""
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value)
    return {"rss_kib": fields["Rss"], "pss_kib": fields["Pss"]}


def run(ctx: Context) -> tuple[dict, list[Target]]:
    model_id = ctx.models["sms"]
    batch = {"texts": [SAMPLE_TEXT] * BATCH_TEXTS, "model_id": model_id}
    single = {"text": SAMPLE_TEXT, "model_id": model_id}
    seconds = ctx.sizes.load_seconds
    names = {count: f"grpc_{count}_processes" for count in PROCESS_COUNTS}
    for count, name in names.items():
        ctx.stack.ports[name] = support.free_port()
        ctx.stack.start(
            name,
            support.procfile_command("algorithm_grpc"),
            ctx.stack.ports[name],
            ALGORITHM_GRPC_PORT=str(ctx.stack.ports[name]),
            ALGORITHM_GRPC_PROCESSES=str(count),
            # A server of its own beside the stack's: its metrics apart.
            METRICS_DIR=str(ctx.stack.workdir / f"metrics-{name}"),
            ALGORITHM_METRICS_PORT=str(support.free_port()),
        )
    try:
        ctx.stack.wait_ready()
        runs, meters = {}, {}
        for count, name in names.items():
            target = ctx.stack.grpc_target(name)

            def one(method, request, concurrency, seconds, target=target):
                # A connection per call in flight: SO_REUSEPORT spreads connections.
                return load.grpc(target, method, request, concurrency, seconds, concurrency)

            warm_up(lambda c, s, one=one: one("PredictBatch", batch, c, s), BATCH_CONCURRENCY)
            root = ctx.stack.services[name].process.pid
            meters[count] = {
                kind: CpuMeter({name: Server(root, workers=count)}) for kind in ("batch", "single")
            }
            runs[f"{count}_batch"] = meters[count]["batch"].wrap(
                lambda one=one: one("PredictBatch", batch, BATCH_CONCURRENCY, seconds)
            )
            runs[f"{count}_single"] = meters[count]["single"].wrap(
                lambda one=one: one("Predict", single, SINGLE_CONCURRENCY, seconds)
            )
        measured = side_by_side(runs, ctx.sizes.repetitions)
        memory = {
            count: {
                str(pid): _memory_kib(pid)
                for pid in descendants([ctx.stack.services[name].process.pid])
            }
            for count, name in names.items()
        }
    finally:
        for name in names.values():
            ctx.stack.stop(name)
    figures: dict = {}
    for count, name in names.items():
        batch_figure, single_figure = measured[f"{count}_batch"], measured[f"{count}_single"]
        batch_cpu = meters[count]["batch"].report()[name]
        single_cpu = meters[count]["single"].report()[name]
        figures[f"{count}_processes"] = {
            f"predict_batch_{BATCH_TEXTS}_c{BATCH_CONCURRENCY}": {
                **batch_figure,
                "texts_per_second": round(batch_figure["rps"] * BATCH_TEXTS, 1),
                # CPU of each process per text (a call's CPU over its texts).
                "cpu_ms_per_text": [round(ms / BATCH_TEXTS, 4) for ms in batch_cpu["processes_ms"]],
                "imbalanced_runs": batch_cpu["imbalanced_runs"],
            },
            f"predict_c{SINGLE_CONCURRENCY}": {
                **single_figure,
                "cpu_ms_per_prediction": single_cpu["processes_ms"],
                "imbalanced_runs": single_cpu["imbalanced_runs"],
            },
            "memory_kib_by_pid": memory[count],
        }
    one, two = figures["1_processes"], figures["2_processes"]
    batch_key = f"predict_batch_{BATCH_TEXTS}_c{BATCH_CONCURRENCY}"
    single_key = f"predict_c{SINGLE_CONCURRENCY}"
    figures["ratio_2_to_1"] = {
        batch_key: round(two[batch_key]["rps"] / max(one[batch_key]["rps"], 1e-9), 3),
        single_key: round(two[single_key]["rps"] / max(one[single_key]["rps"], 1e-9), 3),
    }
    targets = [
        at_least(
            f"PredictBatch({BATCH_TEXTS}) at c{BATCH_CONCURRENCY}, 2 gRPC processes",
            two[batch_key]["texts_per_second"],
            SCALING * one[batch_key]["texts_per_second"],
            "texts/s",
            f"{SCALING} x 1 process",
        )
    ]
    return figures, targets
