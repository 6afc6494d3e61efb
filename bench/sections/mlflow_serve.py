"""`mlflow models serve` on the project's own model version, a peer of the peers section: the
very vectorizer.pickle and model.pickle, through a pyfunc (bench/peers/mlflow_model.py) that
answers the label and the scores, with MLflow's documented serving settings (the local
environment, as many uvicorn workers as web's gunicorn)."""

import pathlib
import sys

from bench.stack import REPO_ROOT, Stack
from tests import support

PEERS_DIR = REPO_ROOT / "bench" / "peers"
# MLflow stays off the network: a local tracking store, no telemetry.
OFFLINE_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def save_pyfunc(path: pathlib.Path, version_dir: pathlib.Path) -> None:
    """The pyfunc, a model from code: nothing of it is pickled, it unpickles the version's
    own files when a worker loads it."""
    import mlflow.pyfunc
    import sklearn

    # MLflow imports the model's code while saving it, and that code imports model_files as
    # the server will, from its code_paths: from the peers' folder.
    sys.path.insert(0, str(PEERS_DIR))
    try:
        mlflow.pyfunc.save_model(
            str(path),
            python_model=str(PEERS_DIR / "mlflow_model.py"),
            code_paths=[str(PEERS_DIR / "model_files.py")],
            model_config={"version_dir": str(version_dir)},
            # Given, so MLflow does not import the model in a subprocess to infer them.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    finally:
        sys.path.remove(str(PEERS_DIR))


def start(stack: Stack, version_dir: pathlib.Path, workers: int) -> None:
    """Start the server as "mlflow" (stack.wait_ready() waits for it)."""
    model_path = stack.workdir / "mlflow-pyfunc"
    save_pyfunc(model_path, version_dir)
    stack.ports["mlflow"] = port = support.free_port()
    stack.start(
        "mlflow",
        f"mlflow models serve -m {model_path} -h 127.0.0.1 -p {port} "
        f"--env-manager local -w {workers}",
        port,
        MLFLOW_TRACKING_URI=(stack.workdir / "mlruns").as_uri(),
        **OFFLINE_ENV,
    )
