"""What an explanation adds to a prediction in process: the serving path's prediction of one
text (LoadedModel.predict) against the same prediction followed by its explanation
(algorithm/domain/explanations.py), on the SMS model by the runtime that serves it, warm and
side by side."""

from algorithm.domain import explanations
from algorithm.domain.store import ModelStore
from bench.context import SAMPLE_TEXT, Context, side_by_side, timed_loop
from bench.targets import Target, at_most

# What explaining one text may add to its prediction's p50.
EXPLAIN_MS = 0.2
# Always five: the two loops are a few seconds each at every size.
REPETITIONS = 5


def run(ctx: Context) -> tuple[dict, list[Target]]:
    model = ModelStore(ctx.stack.model_dir).load(ctx.models["sms"])
    texts = [SAMPLE_TEXT]

    def explained() -> None:
        explanations.explain(model, texts, model.predict(texts))

    seconds = ctx.sizes.latency_seconds
    runs = {
        "in_process_predict": lambda: timed_loop(lambda: model.predict(texts), seconds),
        "in_process_predict_explain": lambda: timed_loop(explained, seconds),
    }
    figures: dict = side_by_side(runs, REPETITIONS)
    figures["runtime"] = model.runtime
    predict, explain = (figures[name]["p50_ms"] for name in runs)
    return figures, [
        at_most(
            "Explanations for one text add at most 0.2 ms at p50 to an in-process prediction",
            explain,
            predict + EXPLAIN_MS,
            "ms",
            f"in-process prediction p50 + {EXPLAIN_MS} ms, one text, {model.runtime}",
        )
    ]
