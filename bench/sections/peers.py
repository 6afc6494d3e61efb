"""Other projects' servers on the project's own model version, beside REST predict, under the
same wrk load; CPU per request of every server process (bench.cpu); and open-loop runs at
fixed arrival rates.

Two sittings, one after the other, each with its own servers:
- the peers as shipped (KServe's V1 and V2 routes, BentoML, their stock settings), beside REST
  predict: no target;
- the peers at their best (KServe without its per-request log lines, BentoML with adaptive
  batching on an async API, mlflow's pyfunc), beside REST predict and REST with coalescing
  off and with the fast scorer off (each its own web and gRPC server, so each gain shows
  apart): the targets, at every concurrency, and the open-loop runs.

Each peer runs from an environment of its own (`make peers`: .venv-kserve, .venv-bentoml,
pinned in bench/peers/; mlflow from the bench group of the project's), with the lock's
scikit-learn, numpy and scipy so the project's pickles load, and as many worker processes as
web's gunicorn.
"""

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from algorithm.domain.store import ModelStore
from bench import load
from bench.context import SAMPLE_TEXT, Context, side_by_side, warm_up
from bench.cpu import CpuMeter, Server, descendants
from bench.sections import mlflow_serve
from bench.sections.peer_targets import OPEN_LOOP_PEERS, targets
from bench.stack import REPO_ROOT, Stack
from tests import support

PEERS_DIR = REPO_ROOT / "bench" / "peers"
KSERVE_PYTHON = REPO_ROOT / ".venv-kserve" / "bin" / "python"
BENTOML = REPO_ROOT / ".venv-bentoml" / "bin" / "bentoml"
MODEL_NAME = "textclf"
# The settings of REST's variants (read by web and the gRPC server), each the default but one.
REST_VARIANTS = {
    "rest_no_coalescing": {"PREDICT_COALESCING": "off"},
    "rest_no_fast_scorer": {"ALGORITHM_FAST_SCORER": "off"},
}


@dataclass(frozen=True)
class PeerPath:
    server: str
    path: str
    body: dict
    label: Callable[[dict], str]
    # The processes measured: their name in the table -> the stack's service (its tree).
    roots: dict[str, str]


def _rest(web: str, grpc: str) -> PeerPath:
    return PeerPath(
        web,
        "/api/predict/",
        {"text": SAMPLE_TEXT},
        lambda a: a["label"],
        {"web": web, "grpc": grpc},
    )


def _kserve_v1(server: str) -> PeerPath:
    return PeerPath(
        server,
        f"/v1/models/{MODEL_NAME}:predict",
        {"instances": [SAMPLE_TEXT]},
        lambda a: a["predictions"][0]["label"],
        {"kserve": server},
    )


def _kserve_v2(server: str) -> PeerPath:
    return PeerPath(
        server,
        f"/v2/models/{MODEL_NAME}/infer",
        {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [SAMPLE_TEXT]}]},
        lambda a: next(o["data"][0] for o in a["outputs"] if o["name"] == "label"),
        {"kserve": server},
    )


REST = _rest("web", "algorithm_grpc")
SHIPPED = {
    "rest_predict": REST,
    "kserve_v1": _kserve_v1("kserve"),
    "kserve_v2": _kserve_v2("kserve"),
    "bentoml": PeerPath(
        "bentoml", "/predict", {"text": SAMPLE_TEXT}, lambda a: a["label"], {"bentoml": "bentoml"}
    ),
}
BEST = {
    "rest_predict": REST,
    **{name: _rest(name, f"{name}_grpc") for name in REST_VARIANTS},
    "kserve_v1_best": _kserve_v1("kserve_best"),
    # Each request still one text: BentoML batches the lists of concurrent requests.
    "bentoml_best": PeerPath(
        "bentoml_best",
        "/predict",
        {"texts": [SAMPLE_TEXT]},
        lambda a: a[0]["label"],
        {"bentoml": "bentoml_best"},
    ),
    "mlflow": PeerPath(
        "mlflow",
        "/invocations",
        {"inputs": [SAMPLE_TEXT]},
        lambda a: a["predictions"][0]["label"],
        {"mlflow": "mlflow"},
    ),
}
# KServe's per-request lines off: the latency trace (--enable_latency_logging), its own
# logging set-up (--configure_logging), which would print uvicorn's access line per request,
# and its loggers' level.
KSERVE_QUIET = "--enable_latency_logging false --configure_logging false"
KSERVE_QUIET_ENV = {"KSERVE_LOGLEVEL": "WARNING"}


def _start_kserve(stack: Stack, name: str, version_dir, workers: int, quiet: bool) -> None:
    if not KSERVE_PYTHON.exists():
        raise RuntimeError(f"{KSERVE_PYTHON} is missing: `make peers` creates it")
    stack.ports[name] = port = support.free_port()
    stack.start(
        name,
        f"{KSERVE_PYTHON} {PEERS_DIR / 'kserve_model.py'} --model_name {MODEL_NAME} "
        f"--version_dir {version_dir} --http_port {port} --workers {workers} "
        f"--enable_grpc false {KSERVE_QUIET if quiet else ''}",
        port,
        inherit_env=False,
        **(KSERVE_QUIET_ENV if quiet else {}),
    )


def _start_bentoml(stack: Stack, name: str, service: str, version_dir, workers: int) -> None:
    if not BENTOML.exists():
        raise RuntimeError(f"{BENTOML} is missing: `make peers` creates it")
    stack.ports[name] = port = support.free_port()
    stack.start(
        name,
        f"{BENTOML} serve bentoml_service:{service} --working-dir {PEERS_DIR} "
        f"--host 127.0.0.1 --port {port}",
        port,
        inherit_env=False,
        BENTOML_HOME=str(stack.workdir / name),
        BENTOML_DO_NOT_TRACK="true",
        BENTOML_PEER_WORKERS=str(workers),
        BENTOML_PEER_VERSION_DIR=str(version_dir),
    )


def _stop(stack: Stack, names: list[str]) -> None:
    """Stop these servers and whatever they started: BentoML's workers run in sessions of
    their own, out of reach of a signal to its process group."""
    for name in names:
        if name not in stack.services:
            continue
        # Handles on the very processes, not on numbers another process could take over.
        handles = []
        for pid in descendants([stack.services[name].process.pid]):
            with contextlib.suppress(ProcessLookupError):
                handles.append(os.pidfd_open(pid))
        stack.stop(name)
        for handle in handles:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(handle, signal.SIGKILL)
            os.close(handle)


def _labels(stack: Stack, paths: dict[str, PeerPath]) -> dict[str, str]:
    """Each path's label for the sample text, once every server answers; all the project's."""
    labels = {}
    for name, p in paths.items():
        support.wait_until(
            lambda p=p: stack.api("POST", p.path, server=p.server, json=p.body).ok,
            180,
            f"{name} answering",
        )
        labels[name] = p.label(stack.api("POST", p.path, server=p.server, json=p.body).json())
    if len(set(labels.values())) != 1:
        raise RuntimeError(f"The peers' labels differ from the project's: {labels}")
    return labels


def _closed_loop(ctx: Context, paths: dict[str, PeerPath], repetitions: int, seconds: float):
    """Every path at every concurrency, side by side, with the CPU of its servers."""
    stack, workers = ctx.stack, ctx.stack.web_workers()

    def load_run(p: PeerPath, concurrency: int, run_seconds: float) -> dict:
        return ctx.http(p.server, p.path, p.body, concurrency, run_seconds)

    for p in paths.values():
        warm_up(lambda c, s, p=p: load_run(p, c, s))
    figures = {}
    for concurrency in ctx.sizes.concurrencies:
        # The workers that should share the load: wrk keeps each connection open, and one
        # connection is served by one worker.
        sharing = min(workers, concurrency)
        meters = {
            name: CpuMeter(
                {
                    shown: Server(
                        stack.services[service].process.pid,
                        1 if service.endswith("grpc") else sharing,
                    )
                    for shown, service in p.roots.items()
                }
            )
            for name, p in paths.items()
        }
        measured = side_by_side(
            {
                name: meters[name].wrap(lambda p=p, c=concurrency: load_run(p, c, seconds))
                for name, p in paths.items()
            },
            repetitions,
        )
        figures[str(concurrency)] = {
            name: {**figure, "cpu": meters[name].report()} for name, figure in measured.items()
        }
    return figures


def _open_loop(ctx: Context, best: dict) -> dict:
    """REST and each peer at its best at fixed arrival rates, shares of the slower one's
    closed-loop capacity at the top concurrency."""
    top = best[str(max(ctx.sizes.concurrencies))]
    figures = {}
    for peer in OPEN_LOOP_PEERS:
        capacity = min(top["rest_predict"]["rps"], top[peer]["rps"])
        shares = {}
        for share in ctx.sizes.open_loop_shares:
            rate = share * capacity
            shares[str(share)] = {
                "rate": round(rate, 1),
                **side_by_side(
                    {
                        name: lambda p=BEST[name], r=rate: ctx.open_loop(
                            p.server, p.path, p.body, r, ctx.sizes.peer_seconds
                        )
                        for name in ("rest_predict", peer)
                    },
                    ctx.sizes.peer_repetitions,
                    load.median_open_loop,
                ),
            }
        figures[peer] = {"capacity_rps": capacity, "shares": shares}
    return figures


def run(ctx: Context) -> tuple[dict, list]:
    stack, sizes = ctx.stack, ctx.sizes
    store = ModelStore(stack.model_dir)
    # The signature, library versions and checksums, checked as a serving process checks
    # them; the peers then check the files against this manifest before unpickling them.
    store.load(ctx.models["sms"])
    version_dir, workers = store.path(ctx.models["sms"]), stack.web_workers()
    figures: dict = {"workers": workers}

    shipped = ["kserve", "bentoml"]
    try:
        _start_kserve(stack, "kserve", version_dir, workers, quiet=False)
        _start_bentoml(stack, "bentoml", "TextClassifier", version_dir, workers)
        stack.wait_ready()
        figures["labels"] = _labels(stack, SHIPPED)
        figures["shipped"] = _closed_loop(
            ctx, SHIPPED, sizes.shipped_repetitions, sizes.shipped_seconds
        )
    finally:
        _stop(stack, shipped)

    best = ["kserve_best", "bentoml_best", "mlflow"]
    best += [service for name in REST_VARIANTS for service in (name, f"{name}_grpc")]
    try:
        _start_kserve(stack, "kserve_best", version_dir, workers, quiet=True)
        _start_bentoml(stack, "bentoml_best", "BatchedTextClassifier", version_dir, workers)
        mlflow_serve.start(stack, version_dir, workers)
        for name, settings in REST_VARIANTS.items():
            stack.start_rest_variant(name, **settings)
        stack.wait_ready()
        figures["labels"] |= _labels(stack, BEST)
        figures["best"] = _closed_loop(ctx, BEST, sizes.peer_repetitions, sizes.peer_seconds)
        figures["open_loop"] = _open_loop(ctx, figures["best"])
    finally:
        _stop(stack, best)
    return figures, targets(figures, sizes.concurrencies)
