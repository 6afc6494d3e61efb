"""What traffic between versions costs the answers, side by side in one run: REST predict
(naming no version) with no split, with a canary taking 10 % (90/10), and with a shadow
scoring every prediction; each variant a web and gRPC server of its own on a copy of the
model folder holding its own TRAFFIC. wrk sends one body, so every request of a run routes by
the one caller's key: the canary variant measures what routing costs each prediction.

The shadow's CPU per prediction is set beside the model's own (in process, one text), with
the shadow's budget and queue lifted so that it scores every text: the gRPC server's CPU is
read around each c1 run of both servers, and the shadow's cost is the median of the
differences between the two servers' runs of one repetition."""

import shutil
import statistics
import time
from collections.abc import Callable

from algorithm.domain import traffic
from algorithm.domain.store import ModelStore
from algorithm.serving import traffic as serving_traffic
from bench.context import COLD_PAUSE_SECONDS, SAMPLE_TEXT, Context, side_by_side, warm_up
from bench.cpu import CpuMeter, Server
from bench.sections.hot_swap import train_and_wait
from bench.targets import Target, at_least, at_most

VARIANTS = ("traffic_none", "traffic_canary", "traffic_shadow")
# The variants whose gRPC server's CPU is read, one beside the other in each repetition.
METERED = ("traffic_shadow", "traffic_none")
CONCURRENCIES = (1, 32)
CANARY_PERCENT = 10.0
# Canary routing may add at most this to the p50 at c1, and no more than the spread.
ROUTING_MS = 0.1
UNBOUNDED_SHADOW = {"SHADOW_MAX_TEXTS_PER_SECOND": "1000000", "SHADOW_QUEUE": "1000000"}
MODEL_CALLS = 500
# After a run and before its CPU is read: the shadow's thread lets the last texts it was
# offered gather, then scores them, and the run pays for them.
SETTLE_SECONDS = serving_traffic.LINGER_SECONDS + 0.25


def _candidate(ctx: Context) -> str:
    """A version besides the SMS one (hot_swap's, or one trained now), with SMS active."""
    store = ModelStore(ctx.stack.model_dir)
    others = [m["model_id"] for m in store.list_manifests() if m["model_id"] != ctx.models["sms"]]
    if others:
        return others[0]
    candidate = train_and_wait(ctx)["model_id"]
    ctx.stack.api("POST", f"/api/models/{ctx.models['sms']}/activate/")
    return candidate


def _folder(ctx: Context, name: str, split: traffic.Traffic, versions: list[str]) -> str:
    """A model folder of the variant's own: the versions, ACTIVE on SMS, and the split."""
    folder = ctx.stack.workdir / f"models-{name}"
    shutil.rmtree(folder, ignore_errors=True)
    for model_id in versions:
        shutil.copytree(ctx.stack.model_dir / model_id, folder / model_id)
    store = ModelStore(folder)
    store.point_active(ctx.models["sms"])
    store.update_traffic(lambda _current: split)
    return str(folder)


def _model_cpu_ms(ctx: Context, model_id: str) -> dict[str, float]:
    """CPU ms of one text's prediction by the version, in process (the median of five runs),
    back to back and paced as the c1 load paces the server (a pause between two calls)."""
    model = ModelStore(ctx.stack.model_dir).load(model_id)
    figures = {}
    for name, pause in (("back_to_back", 0.0), ("paced", COLD_PAUSE_SECONDS)):
        spent = []
        for _ in range(5):
            total = 0.0
            for _ in range(MODEL_CALLS):
                started = time.process_time()
                model.predict([SAMPLE_TEXT])
                total += time.process_time() - started
                if pause:
                    time.sleep(pause)
            spent.append(total * 1000 / MODEL_CALLS)
        figures[name] = round(statistics.median(spent), 4)
    return figures


def _with_cpu(pid: int, load: Callable[[], dict]) -> Callable[[], dict]:
    """The load run, its figure given the gRPC server's CPU ms per request in that run."""

    def measured() -> dict:
        meter = CpuMeter({"grpc": Server(pid)})

        def settled() -> dict:
            figure = load()
            time.sleep(SETTLE_SECONDS)
            return figure

        figure = meter.wrap(settled)()
        return {**figure, "grpc_cpu_ms": meter.report()["grpc"]["total_ms"]}

    return measured


def _spread(figure: dict, key: str) -> float:
    values = [run[key] for run in figure["runs"]]
    return max(values) - min(values)


def run(ctx: Context) -> tuple[dict, list[Target]]:
    sms, candidate = ctx.models["sms"], _candidate(ctx)
    since = traffic.now()
    splits = {
        "traffic_none": traffic.NONE,
        "traffic_canary": traffic.Traffic(
            canary=traffic.canary_from(
                {"model_id": candidate, "percent": CANARY_PERCENT, "min_answers": 10**6}, since
            )
        ),
        "traffic_shadow": traffic.Traffic(shadow=traffic.Shadow(candidate, 1.0, since)),
    }
    for name in VARIANTS:
        folder = _folder(ctx, name, splits[name], [sms, candidate])
        extra = UNBOUNDED_SHADOW if name == "traffic_shadow" else {}
        ctx.stack.start_rest_variant(name, MODEL_DIR=folder, **extra)
    body = {"text": SAMPLE_TEXT}
    seconds = ctx.sizes.load_seconds
    try:
        ctx.stack.wait_ready()
        for name in VARIANTS:
            warm_up(lambda c, s, name=name: ctx.http(name, "/api/predict/", body, c, s))
        answered_by = ctx.stack.api("POST", "/api/predict/", "traffic_canary", json=body).json()
        runs = {}
        for name in VARIANTS:
            for c in CONCURRENCIES:

                def load(name=name, c=c):
                    return ctx.http(name, "/api/predict/", body, c, seconds)

                pid = ctx.stack.services[f"{name}_grpc"].process.pid
                runs[f"{name}_c{c}"] = _with_cpu(pid, load) if name in METERED and c == 1 else load
        figures: dict = side_by_side(runs, ctx.sizes.traffic_repetitions)
    finally:
        for name in VARIANTS:
            ctx.stack.stop(name)
            ctx.stack.stop(f"{name}_grpc")
    model = _model_cpu_ms(ctx, candidate)
    figures["canary_answered_by"] = "canary" if answered_by["model_id"] == candidate else "champion"
    cpu = {name: [run["grpc_cpu_ms"] for run in figures[f"{name}_c1"]["runs"]] for name in METERED}
    pairs = zip(cpu["traffic_shadow"], cpu["traffic_none"], strict=True)
    added = [round(shadow - none, 4) for shadow, none in pairs]
    for name in METERED:
        figures[f"{name}_c1"]["grpc_cpu_ms"] = round(statistics.median(cpu[name]), 4)
    figures["shadow_cpu_added"] = {
        "grpc_cpu_ms": round(statistics.median(added), 4),
        "runs": [{"grpc_cpu_ms": one} for one in added],
    }
    figures["cpu_ms_per_prediction"] = {
        **{name: figures[f"{name}_c1"]["grpc_cpu_ms"] for name in METERED},
        "shadow_added": figures["shadow_cpu_added"]["grpc_cpu_ms"],
        "model_in_process": model["back_to_back"],
        "model_in_process_paced": model["paced"],
    }
    none_c1, none_c32 = figures["traffic_none_c1"], figures["traffic_none_c32"]
    canary_c1, canary_c32 = figures["traffic_canary_c1"], figures["traffic_canary_c32"]
    shadow_c1 = figures["traffic_shadow_c1"]
    p50_spread = _spread(none_c1, "p50_ms")
    repetitions = ctx.sizes.traffic_repetitions
    targets = [
        at_most(
            "Canary routing 90/10: REST p50 c1",
            canary_c1["p50_ms"],
            none_c1["p50_ms"] + min(p50_spread, ROUTING_MS),
            "ms",
            f"no split + the spread of {repetitions} runs, at most {ROUTING_MS} ms",
        ),
        at_least(
            "Canary routing 90/10: REST c32",
            canary_c32["rps"],
            none_c32["rps"] - _spread(none_c32, "rps"),
            "req/s",
            f"no split - the spread of {repetitions} runs",
        ),
        at_most(
            "Shadow at 100 %: CPU per prediction added",
            figures["shadow_cpu_added"]["grpc_cpu_ms"],
            model["back_to_back"],
            "ms",
            f"the shadow model's own CPU for one text, in process (median of {repetitions} "
            "differences)",
        ),
        at_most(
            "Shadow at 100 %: champion's REST p50 c1",
            shadow_c1["p50_ms"],
            none_c1["p50_ms"] + p50_spread,
            "ms",
            f"no split + the spread of {repetitions} runs",
        ),
    ]
    return figures, targets
