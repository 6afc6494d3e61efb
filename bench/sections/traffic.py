"""What traffic between versions costs the answers, side by side in one run: REST predict
(naming no version) with no split, with a canary taking 10 % (90/10), and with a shadow
scoring every prediction; each variant a web and gRPC server of its own on a copy of the
model folder holding its own TRAFFIC. Every request carries one reference, chosen so that the
canary routes it to the champion: the canary variant pays for routing each prediction and
answers with the same version as the others, so what it adds is routing's cost alone (the
candidate may cost more or less than the champion to run).

The shadow's CPU per prediction is set beside the model's own (in process, one text), with
the shadow's budget and queue lifted so that it scores every text. The no-split and shadow
servers are loaded at c1 at the same time, the shadow on in one and off in the other, and
the two swapped each pair (by their TRAFFIC); the CPU of each one's whole process tree, the
scoring processes included, is read around the pair. Loading both at once takes the
machine's drift between runs out of the difference, and swapping them takes out what two
server pairs differ by whatever their traffic (as much as the shadow costs, here). The pairs
start once both servers' scoring processes have started and gone quiet; the cost is the
median of the pairs' differences.

What routing and the shadow add to the p50 at c1 is read the same way: one request at a time
to each variant in turn (load.alternating), each run's difference from the no-split one."""

import concurrent.futures
import itertools
import pathlib
import shutil
import statistics
import time
from collections.abc import Callable

from algorithm import settings as algorithm_settings
from algorithm.domain import traffic
from algorithm.domain.store import ModelStore
from algorithm.serving import shadow_scoring
from algorithm.serving import traffic as serving_traffic
from bench.context import COLD_PAUSE_SECONDS, SAMPLE_TEXT, Context, side_by_side, warm_up
from bench.cpu import cpu_seconds, descendants
from bench.sections.hot_swap import train_and_wait
from bench.targets import Target, at_least, at_most
from tests import support

VARIANTS = ("traffic_none", "traffic_canary", "traffic_shadow")
# The two servers whose shadow is switched on and off, in turn, for the CPU pairs.
METERED = ("traffic_shadow", "traffic_none")
# After TRAFFIC changes: every serving process reads it within ACTIVE_MODEL_POLL_SECONDS.
SWITCH_SECONDS = 1.0
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


def _scoring_processes(root: int) -> list[int]:
    found = []
    for pid in descendants([root]):
        try:
            command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if shadow_scoring.__name__.encode() in command:
            found.append(pid)
    return found


def _scoring_started(ctx: Context, name: str, root: int, body: dict) -> None:
    """Load a server whose shadow is on until each of its processes has a scoring process,
    then wait for them to go quiet: a scoring process's start (its imports, the version's
    load) is not what a prediction costs."""

    def quiet() -> bool:
        ctx.http(name, "/api/predict/", body, 8, 1)
        scoring = _scoring_processes(root)
        before = cpu_seconds(scoring)
        time.sleep(SETTLE_SECONDS + 0.5)
        return len(scoring) >= algorithm_settings.GRPC_PROCESSES and before == cpu_seconds(scoring)

    support.wait_until(quiet, 120, "the shadow's scoring processes to start")


def _shadow_crossover(
    ctx: Context, stores: dict[str, ModelStore], roots: dict[str, int], body: dict
) -> dict[str, dict]:
    """traffic_cpu_pairs runs of the no-split and shadow servers at c1 at the same time, the shadow
    on in one and off in the other, the two swapped each pair: the CPU ms per prediction of
    each one's process tree with the shadow on and off, and each pair's difference."""
    shadow_split = stores["traffic_shadow"].read_traffic()
    spent: dict[str, list[float]] = {"on": [], "off": []}

    def switch(on: str) -> None:
        for name, store in stores.items():
            store.update_traffic(
                lambda _current, name=name: shadow_split if name == on else traffic.NONE
            )
        time.sleep(SWITCH_SECONDS)

    try:
        switch("traffic_none")
        _scoring_started(ctx, "traffic_none", roots["traffic_none"], body)
        with concurrent.futures.ThreadPoolExecutor(len(stores)) as pool:
            for pair in range(ctx.sizes.traffic_cpu_pairs):
                on, off = METERED if pair % 2 else METERED[::-1]
                switch(on)
                trees = {name: descendants([roots[name]]) for name in METERED}
                before = {name: cpu_seconds(trees[name]) for name in METERED}
                loads = {
                    name: pool.submit(
                        ctx.http, name, "/api/predict/", body, 1, ctx.sizes.load_seconds
                    )
                    for name in METERED
                }
                requests = {name: max(load.result()["requests"], 1) for name, load in loads.items()}
                time.sleep(SETTLE_SECONDS)
                for state, name in (("on", on), ("off", off)):
                    after = cpu_seconds(trees[name])
                    used = sum(after[pid] - before[name].get(pid, 0.0) for pid in after)
                    spent[state].append(round(used * 1000 / requests[name], 4))
    finally:
        switch("traffic_shadow")
    added = [round(on - off, 4) for on, off in zip(spent["on"], spent["off"], strict=True)]
    return {
        state: {
            "grpc_cpu_ms": round(statistics.median(values), 4),
            "runs": [{"grpc_cpu_ms": value} for value in values],
        }
        for state, values in (*spent.items(), ("added", added))
    }


def _in_turn(turns: list[dict[str, dict]]) -> dict:
    """Each variant's p50 over the alternating runs, and the canary's and shadow's difference
    from the no-split one's in each run."""
    found: dict = {
        name: {
            "p50_ms": round(statistics.median(turn[name]["p50_ms"] for turn in turns), 3),
            "runs": [turn[name] for turn in turns],
        }
        for name in VARIANTS
    }
    for name in ("traffic_canary", "traffic_shadow"):
        added = [round(turn[name]["p50_ms"] - turn["traffic_none"]["p50_ms"], 3) for turn in turns]
        found[f"{name}_added"] = {
            "p50_ms": round(statistics.median(added), 3),
            "runs": [{"p50_ms": one} for one in added],
        }
    return found


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
    folders: dict[str, str] = {}
    canary = splits["traffic_canary"].canary
    assert canary is not None
    reference = next(f"bench-{n}" for n in itertools.count() if not canary.routes(f"bench-{n}"))
    for name in VARIANTS:
        folders[name] = folder = _folder(ctx, name, splits[name], [sms, candidate])
        extra = UNBOUNDED_SHADOW if name in METERED else {}
        ctx.stack.start_rest_variant(name, MODEL_DIR=folder, **extra)
    body = {"text": SAMPLE_TEXT, "reference": reference}
    seconds = ctx.sizes.load_seconds
    try:
        ctx.stack.wait_ready()
        for name in VARIANTS:

            def warming(c: int, s: float, name: str = name) -> dict:
                return ctx.http(name, "/api/predict/", body, c, s)

            warm_up(warming)
        answered_by = ctx.stack.api("POST", "/api/predict/", "traffic_canary", json=body).json()
        roots = {name: ctx.stack.services[f"{name}_grpc"].process.pid for name in METERED}
        _scoring_started(ctx, "traffic_shadow", roots["traffic_shadow"], body)
        runs: dict[str, Callable[[], dict]] = {}
        for name in VARIANTS:
            for c in CONCURRENCIES:

                def load(name: str = name, c: int = c) -> dict:
                    return ctx.http(name, "/api/predict/", body, c, seconds)

                runs[f"{name}_c{c}"] = load
        figures: dict = side_by_side(runs, ctx.sizes.traffic_repetitions)
        turns = [
            ctx.alternating(VARIANTS, "/api/predict/", body, seconds)
            for _ in range(ctx.sizes.traffic_repetitions)
        ]
        stores = {name: ModelStore(pathlib.Path(folders[name])) for name in METERED}
        cpu = _shadow_crossover(ctx, stores, roots, body)
    finally:
        for name in VARIANTS:
            ctx.stack.stop(name)
            ctx.stack.stop(f"{name}_grpc")
    model = _model_cpu_ms(ctx, candidate)
    figures["canary_answered_by"] = "canary" if answered_by["model_id"] == candidate else "champion"
    figures["shadow_on_and_off"] = cpu
    figures["cpu_ms_per_prediction"] = {
        "shadow_on": cpu["on"]["grpc_cpu_ms"],
        "shadow_off": cpu["off"]["grpc_cpu_ms"],
        "shadow_added": cpu["added"]["grpc_cpu_ms"],
        "model_in_process": model["back_to_back"],
        "model_in_process_paced": model["paced"],
    }
    figures["in_turn"] = in_turn = _in_turn(turns)
    none_c32, canary_c32 = figures["traffic_none_c32"], figures["traffic_canary_c32"]
    p50_spread = _spread(in_turn["traffic_none"], "p50_ms")
    repetitions = ctx.sizes.traffic_repetitions
    in_turns = f"one request at a time to each server in turn, median of {repetitions} runs"
    targets = [
        at_most(
            "Canary routing 90/10: REST p50 c1 added",
            in_turn["traffic_canary_added"]["p50_ms"],
            min(p50_spread, ROUTING_MS),
            "ms",
            f"the no-split p50's spread, at most {ROUTING_MS} ms ({in_turns})",
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
            cpu["added"]["grpc_cpu_ms"],
            model["paced"],
            "ms",
            "the shadow model's own CPU for one text in process, paced as at c1 "
            f"({model['back_to_back']} ms back to back); median of "
            f"{ctx.sizes.traffic_cpu_pairs} pairs' "
            "differences, two servers at once, the shadow on in one, swapped each pair",
        ),
        at_most(
            "Shadow at 100 %: champion's REST p50 c1 added",
            in_turn["traffic_shadow_added"]["p50_ms"],
            p50_spread,
            "ms",
            f"the no-split p50's spread ({in_turns})",
        ),
    ]
    return figures, targets
