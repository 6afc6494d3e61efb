"""Predictions one at a time against their floors, the same paths under load, and batches."""

import base64
import dataclasses
from collections.abc import Callable

from algorithm.domain.fast_scoring import SCIKIT_LEARN_RUNTIME
from algorithm.domain.store import ModelStore
from bench.context import (
    COLD_PAUSE_SECONDS,
    SAMPLE_TEXT,
    Context,
    side_by_side,
    timed_loop,
    warm_up,
)
from bench.targets import Target, at_least, at_most

Path = Callable[[int, float], dict]
# What one text's prediction may cost in process, warm; and what the gRPC service may add to
# the empty call and that prediction (its messages, the service layer).
WARM_FLOOR_MS = 0.15
GRPC_OVERHEAD_MS = 0.2


def paths(ctx: Context, body: dict | None = None) -> dict[str, Path]:
    """Every served path, as run(concurrency, seconds) -> figure. The floors: an empty gRPC
    handler on the same server settings; the cheapest authenticated endpoint of web's
    prediction path (bench/web_asgi.py: everything REST predict does but the call to the
    algorithm service); and an empty DRF view, which is what the rest of the API costs."""
    body = body or {"text": SAMPLE_TEXT}
    return {
        "grpc_empty": lambda c, s: ctx.grpc("bench_grpc", "EmptyPredict", body, c, s),
        "grpc_predict": lambda c, s: ctx.grpc("grpc", "Predict", body, c, s),
        "rest_empty": lambda c, s: ctx.http("bench_web", "/bench/empty/", body, c, s),
        "rest_empty_async": lambda c, s: ctx.http("bench_web", "/bench/empty-async/", body, c, s),
        "rest_predict": lambda c, s: ctx.http("web", "/api/predict/", body, c, s),
        "flask_predict": lambda c, s: ctx.http("http", "/predict", body, c, s),
    }


def in_process(
    ctx: Context,
    texts: list[str],
    model_id: str,
    seconds: float | None = None,
    warm: bool = False,
    runtime: str = "",
) -> Callable[[], dict]:
    """One timed loop of the serving path's prediction (LoadedModel.predict, by the runtime
    that serves the version, or by scikit-learn if `runtime` names it): cold (a pause between
    two calls, as a server one request at a time), or warm (back to back)."""
    model = ModelStore(ctx.stack.model_dir).load(model_id)
    if runtime == SCIKIT_LEARN_RUNTIME:
        model = dataclasses.replace(model, scorer=None)
    pause = 0.0 if warm else COLD_PAUSE_SECONDS
    return lambda: timed_loop(
        lambda: model.predict(texts), seconds or ctx.sizes.latency_seconds, pause
    )


def latency(ctx: Context) -> tuple[dict, list[Target]]:
    seconds = ctx.sizes.latency_seconds
    # Every server process answers a first request before anything is measured.
    for run in paths(ctx).values():
        warm_up(run)
    model_id = ctx.models["sms"]
    runs = {
        "in_process": in_process(ctx, [SAMPLE_TEXT], model_id),
        "in_process_warm": in_process(
            ctx, [SAMPLE_TEXT], model_id, ctx.sizes.floor_seconds, warm=True
        ),
        # The same, by scikit-learn: what the fast runtime saves.
        "in_process_warm_sklearn": in_process(
            ctx, [SAMPLE_TEXT], model_id, warm=True, runtime=SCIKIT_LEARN_RUNTIME
        ),
    }
    runs |= {name: (lambda run=run: run(1, seconds)) for name, run in paths(ctx).items()}
    figures = side_by_side(runs, ctx.sizes.repetitions)
    p50 = {name: figure["p50_ms"] for name, figure in figures.items()}
    targets = [
        at_most(
            "Warm in-process prediction p50",
            p50["in_process_warm"],
            WARM_FLOOR_MS,
            "ms",
            f"{WARM_FLOOR_MS} ms, one text",
        ),
        at_most(
            "gRPC Predict p50",
            p50["grpc_predict"],
            p50["grpc_empty"] + p50["in_process_warm"] + GRPC_OVERHEAD_MS,
            "ms",
            f"empty gRPC p50 + warm in-process p50 + {GRPC_OVERHEAD_MS} ms",
        ),
        at_most(
            "REST predict p50",
            p50["rest_predict"],
            1.2 * (p50["rest_empty_async"] + p50["grpc_predict"]),
            "ms",
            "1.2 x (empty authenticated endpoint p50 + gRPC Predict p50)",
        ),
    ]
    return figures, targets


def throughput(ctx: Context) -> tuple[dict, list[Target]]:
    """Closed loop at each concurrency; concurrency 1 is the latency section's run."""
    figures = {name: {"1": ctx.results["latency"][name]} for name in paths(ctx)}
    for concurrency in ctx.sizes.concurrencies:
        if concurrency == 1:
            continue
        measured = side_by_side(
            {
                name: (lambda run=run, c=concurrency: run(c, ctx.sizes.load_seconds))
                for name, run in paths(ctx).items()
            },
            ctx.sizes.repetitions,
        )
        for name, figure in measured.items():
            figures[name][str(concurrency)] = figure
    top = str(max(ctx.sizes.concurrencies))
    targets = [
        at_least(
            f"REST predict throughput c{top}",
            figures["rest_predict"][top]["rps"],
            0.6 * figures["rest_empty_async"][top]["rps"],
            "req/s",
            f"0.6 x empty authenticated endpoint c{top}",
        )
    ]
    return figures, targets


def batch(ctx: Context) -> tuple[dict, list[Target]]:
    """PredictBatch of n texts, beside single Predict calls; cost per text."""
    texts = [SAMPLE_TEXT] * max(ctx.sizes.batch_sizes)
    seconds = ctx.sizes.latency_seconds
    runs = {"single": lambda: ctx.grpc("grpc", "Predict", {"text": SAMPLE_TEXT}, 1, seconds)}
    for size in ctx.sizes.batch_sizes:
        request = {"texts": texts[:size]}
        runs[str(size)] = lambda request=request: ctx.grpc(
            "grpc", "PredictBatch", request, 1, seconds
        )
    measured = side_by_side(runs, ctx.sizes.repetitions)
    single = measured.pop("single")
    figures = {
        "single_predict": single,
        "batches": {
            size: {**figure, "per_text_ms": round(figure["p50_ms"] / int(size), 4)}
            for size, figure in measured.items()
        },
    }
    largest = str(max(ctx.sizes.batch_sizes))
    targets = [
        at_most(
            f"PredictBatch({largest}) cost per text",
            figures["batches"][largest]["per_text_ms"],
            single["p50_ms"] / 20,
            "ms",
            "1/20 of a single Predict p50",
        )
    ]
    return figures, targets


def model_infer_request(texts: list[str]) -> dict:
    """A ModelInfer request as tritonclient sends one: the texts in raw_input_contents (the
    protocol's BYTES encoding), in the JSON form of the message (bytes as base64)."""
    raw = b"".join(len(text.encode()).to_bytes(4, "little") + text.encode() for text in texts)
    return {
        "model_name": "textclf",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)]}],
        "raw_input_contents": [base64.b64encode(raw).decode()],
    }


def inference_protocol(ctx: Context) -> tuple[dict, list[Target]]:
    """ModelInfer, the Open Inference Protocol's call, beside Predict and PredictBatch on the
    same texts: what speaking the standard costs."""
    largest = max(ctx.sizes.batch_sizes)
    texts = [SAMPLE_TEXT] * largest
    seconds = ctx.sizes.latency_seconds
    calls = {
        "predict": ("Predict", {"text": SAMPLE_TEXT}),
        "model_infer": ("ModelInfer", model_infer_request([SAMPLE_TEXT])),
        f"predict_batch_{largest}": ("PredictBatch", {"texts": texts}),
        f"model_infer_{largest}": ("ModelInfer", model_infer_request(texts)),
    }
    figures = side_by_side(
        {
            name: (lambda m=method, r=request: ctx.grpc("grpc", m, r, 1, seconds))
            for name, (method, request) in calls.items()
        },
        ctx.sizes.repetitions,
    )
    targets = [
        at_most(
            "ModelInfer p50, one text",
            figures["model_infer"]["p50_ms"],
            1.2 * figures["predict"]["p50_ms"],
            "ms",
            "1.2 x Predict p50",
        ),
        at_most(
            f"ModelInfer p50, {largest} texts",
            figures[f"model_infer_{largest}"]["p50_ms"],
            1.2 * figures[f"predict_batch_{largest}"]["p50_ms"],
            "ms",
            f"1.2 x PredictBatch({largest}) p50",
        ),
    ]
    return figures, targets
