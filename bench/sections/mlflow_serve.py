"""`mlflow models serve` on the same algorithm and data, under the same wrk load."""

import pandas as pd

from algorithm.domain import ml
from bench import data
from bench.context import SAMPLE_TEXT, Context, side_by_side, warm_up
from bench.targets import Target, at_least, at_most
from tests import support

# MLflow stays off the network: a local tracking store, no telemetry.
OFFLINE_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def _save_pipeline(path) -> None:
    """The default algorithm as one scikit-learn pipeline over a "text" column, saved in
    MLflow's sklearn flavour."""
    import mlflow.sklearn
    import sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    rows = data.sms_rows()
    frame = pd.DataFrame({"text": [text for text, _ in rows]})
    labels = [label for _, label in rows]
    algorithm = ml.ALGORITHMS[ml.DEFAULT_ALGORITHM]
    parameters = ml.resolve_parameters(algorithm.name, {})
    smallest = min(labels.count(label) for label in set(labels))
    pipeline = Pipeline(
        [
            (
                "features",
                ColumnTransformer([("tfidf", algorithm.build_vectorizer(parameters), "text")]),
            ),
            ("classifier", algorithm.build_classifier(parameters, smallest)),
        ]
    )
    pipeline.fit(frame, labels)
    mlflow.sklearn.save_model(
        pipeline,
        str(path),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
        # Given, so MLflow does not import the model in a subprocess to infer them.
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )


def run(ctx: Context) -> tuple[dict, list[Target]]:
    stack = ctx.stack
    model_path = stack.workdir / "mlflow-model"
    _save_pipeline(model_path)
    port = support.free_port()
    stack.ports["mlflow"] = port
    workers = ctx.sizes.mlflow_workers or stack.web_workers()
    stack.start(
        "mlflow",
        f"mlflow models serve -m {model_path} -h 127.0.0.1 -p {port} "
        f"--env-manager local -w {workers}",
        port,
        MLFLOW_TRACKING_URI=(stack.workdir / "mlruns").as_uri(),
        **OFFLINE_ENV,
    )
    try:
        stack.wait_ready()
        mlflow_body = {"dataframe_records": [{"text": SAMPLE_TEXT}]}
        answer = stack.api("POST", "/invocations", server="mlflow", json=mlflow_body)
        answer.raise_for_status()
        warm_up(lambda c, s: ctx.http("mlflow", "/invocations", mlflow_body, c, s))
        figures = {"workers": workers, "answer": answer.json()}
        for concurrency in ctx.sizes.concurrencies:
            seconds = ctx.sizes.latency_seconds if concurrency == 1 else ctx.sizes.load_seconds
            figures[str(concurrency)] = side_by_side(
                {
                    "rest_predict": lambda c=concurrency, s=seconds: ctx.http(
                        "web", "/api/predict/", {"text": SAMPLE_TEXT}, c, s
                    ),
                    "mlflow": lambda c=concurrency, s=seconds: ctx.http(
                        "mlflow", "/invocations", mlflow_body, c, s
                    ),
                },
                ctx.sizes.repetitions,
            )
    finally:
        stack.stop("mlflow")
    top = str(max(ctx.sizes.concurrencies))
    rest, served = figures[top]["rest_predict"], figures[top]["mlflow"]
    targets = [
        at_least(
            f"REST vs mlflow throughput c{top}",
            rest["rps"],
            5 * served["rps"],
            "req/s",
            "5 x mlflow",
        ),
        at_most(
            f"REST vs mlflow p50 c{top}",
            rest["p50_ms"],
            served["p50_ms"],
            "ms",
            "mlflow p50 (lower)",
        ),
        at_most(
            f"REST vs mlflow p99 c{top}",
            rest["p99_ms"],
            served["p99_ms"],
            "ms",
            "mlflow p99 (lower)",
        ),
    ]
    return figures, targets
