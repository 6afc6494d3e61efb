"""How cost grows: prediction latency with the text's length, training time with the rows.
Each curve gets the slope of a straight line fitted on log-log axes: 1 is linear."""

import itertools
import time

import numpy as np

from algorithm.domain import ml
from bench import data
from bench.context import Context, side_by_side
from bench.sections.serving import in_process

# A slope up to this counts as linear: the small sizes carry fixed costs, which flatten it.
LINEAR_SLOPE = 1.15


def log_log_slope(sizes: list[int], values: list[float]) -> dict:
    slope = float(np.polyfit(np.log(sizes), np.log(values), 1)[0])
    if slope <= LINEAR_SLOPE:
        verdict = "linear" if slope >= 0.85 else "sub-linear"
    else:
        verdict = "super-linear"
    return {"slope": round(slope, 3), "verdict": verdict}


def text_of_length(length: int) -> str:
    words = itertools.cycle(" ".join(text for text, _ in data.sms_rows()[:50]).split())
    text = ""
    while len(text) < length:
        text += next(words) + " "
    return text[:length]


def predict_latency(ctx: Context) -> tuple[dict, list]:
    """gRPC Predict and in-process predict, one text at a time, by text length."""
    lengths = ctx.sizes.text_lengths
    texts = {length: text_of_length(length) for length in lengths}
    seconds = ctx.sizes.latency_seconds
    runs = {}
    for length in lengths:
        runs[f"grpc {length}"] = lambda t=texts[length]: ctx.grpc(
            "grpc", "Predict", {"text": t}, 1, seconds
        )
        runs[f"in_process {length}"] = in_process(ctx, [texts[length]], ctx.models["sms"])
    measured = side_by_side(runs, ctx.sizes.repetitions)
    served = {str(n): measured[f"grpc {n}"] for n in lengths}
    local = {str(n): measured[f"in_process {n}"] for n in lengths}
    figures = {
        "grpc_predict": served,
        "in_process": local,
        "grpc_predict_fit": log_log_slope(lengths, [served[str(n)]["p50_ms"] for n in lengths]),
        "in_process_fit": log_log_slope(lengths, [local[str(n)]["p50_ms"] for n in lengths]),
    }
    return figures, []


def training_time(ctx: Context) -> tuple[dict, list]:
    """The default algorithm trained in this process on growing perturbed copies of SMS."""
    seconds = {}
    parameters = ml.resolve_parameters(ml.DEFAULT_ALGORITHM, {})
    warm = list(data.perturbed_rows(min(ctx.sizes.growth_train_rows)))
    # The first fit in a process pays one-off costs (imports, caches): not part of any size.
    ml.train([t for t, _ in warm], [label for _, label in warm], ml.DEFAULT_ALGORITHM, parameters)
    for rows in ctx.sizes.growth_train_rows:
        table = list(data.perturbed_rows(rows))
        texts, labels = [text for text, _ in table], [label for _, label in table]
        start = time.perf_counter()
        ml.train(texts, labels, ml.DEFAULT_ALGORITHM, parameters)
        seconds[str(rows)] = round(time.perf_counter() - start, 3)
    sizes = list(ctx.sizes.growth_train_rows)
    figures = {
        "algorithm": ml.DEFAULT_ALGORITHM,
        "seconds": seconds,
        "fit": log_log_slope(sizes, [seconds[str(rows)] for rows in sizes]),
    }
    return {"training": figures}, []
