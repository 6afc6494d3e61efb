"""The naive design as the peer baseline: a model unpickled from disk on every request,
on the same web stack and authentication, against the real REST predict."""

from bench.context import SAMPLE_TEXT, Context, side_by_side
from bench.targets import Target, at_least, at_most

# The throughput factor REST predict must reach over the naive endpoint, per model.
FACTORS = {"sms": 3, "large": 10}


def run(ctx: Context) -> tuple[dict, list[Target]]:
    concurrency = max(ctx.sizes.concurrencies)
    seconds = ctx.sizes.load_seconds
    figures, targets = {}, []
    for name, factor in FACTORS.items():
        body = {"text": SAMPLE_TEXT, "model_id": ctx.models[name]}
        for path, server in (("/api/predict/", "web"), ("/bench/naive-predict/", "bench_web")):
            answer = ctx.stack.api("POST", path, server=server, json=body)
            answer.raise_for_status()
        measured = side_by_side(
            {
                "rest_predict": lambda b=body: ctx.http(
                    "web", "/api/predict/", b, concurrency, seconds
                ),
                "naive": lambda b=body: ctx.http(
                    "bench_web", "/bench/naive-predict/", b, concurrency, seconds
                ),
            },
            ctx.sizes.repetitions,
        )
        rest, naive = measured["rest_predict"], measured["naive"]
        label = f"{name} model ({ctx.model_rows[name]} rows)"
        figures[name] = {**measured, "rows": ctx.model_rows[name]}
        targets += [
            at_least(
                f"REST vs naive throughput c{concurrency}, {label}",
                rest["rps"],
                factor * naive["rps"],
                "req/s",
                f"{factor} x naive",
            ),
            at_most(
                f"REST vs naive p99 c{concurrency}, {label}",
                rest["p99_ms"],
                naive["p99_ms"],
                "ms",
                "naive p99 (lower)",
            ),
        ]
    return figures, targets
