"""KServe's Python model server (its V1 and its Open Inference Protocol V2 routes) and BentoML
serving the project's own model version, beside REST predict, under the same wrk load; CPU
per request of every server process (bench.cpu).

Each peer runs from an environment of its own (`make peers`: .venv-kserve, .venv-bentoml,
pinned in bench/peers/), with the lock's scikit-learn, numpy and scipy so the project's
pickles load, and as many worker processes as web's gunicorn.
"""

import contextlib
import os
import signal

from algorithm.domain.store import ModelStore
from bench.context import SAMPLE_TEXT, Context, side_by_side, warm_up
from bench.cpu import CpuMeter, Server, descendants
from bench.stack import REPO_ROOT, Stack
from bench.targets import Target, at_least, at_most
from tests import support

PEERS_DIR = REPO_ROOT / "bench" / "peers"
KSERVE_PYTHON = REPO_ROOT / ".venv-kserve" / "bin" / "python"
BENTOML = REPO_ROOT / ".venv-bentoml" / "bin" / "bentoml"
MODEL_NAME = "textclf"

# Each path: (server, URL path, body, the label in its answer).
PATHS = {
    "rest_predict": ("web", "/api/predict/", {"text": SAMPLE_TEXT}, lambda a: a["label"]),
    "kserve_v1": (
        "kserve",
        f"/v1/models/{MODEL_NAME}:predict",
        {"instances": [SAMPLE_TEXT]},
        lambda a: a["predictions"][0]["label"],
    ),
    "kserve_v2": (
        "kserve",
        f"/v2/models/{MODEL_NAME}/infer",
        {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [SAMPLE_TEXT]}]},
        lambda a: next(o["data"][0] for o in a["outputs"] if o["name"] == "label"),
    ),
    "bentoml": ("bentoml", "/predict", {"text": SAMPLE_TEXT}, lambda a: a["label"]),
}


def _start_peers(stack: Stack, version_dir, workers: int) -> None:
    for binary in (KSERVE_PYTHON, BENTOML):
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: `make peers` creates it")
    stack.ports["kserve"] = kserve_port = support.free_port()
    stack.ports["bentoml"] = bentoml_port = support.free_port()
    stack.start(
        "kserve",
        f"{KSERVE_PYTHON} {PEERS_DIR / 'kserve_model.py'} --model_name {MODEL_NAME} "
        f"--version_dir {version_dir} --http_port {kserve_port} --workers {workers} "
        "--enable_grpc false",
        kserve_port,
        inherit_env=False,
    )
    stack.start(
        "bentoml",
        f"{BENTOML} serve bentoml_service:TextClassifier --working-dir {PEERS_DIR} "
        f"--host 127.0.0.1 --port {bentoml_port}",
        bentoml_port,
        inherit_env=False,
        BENTOML_HOME=str(stack.workdir / "bentoml"),
        BENTOML_DO_NOT_TRACK="true",
        BENTOML_PEER_WORKERS=str(workers),
        BENTOML_PEER_VERSION_DIR=str(version_dir),
    )


def _stop_peers(stack: Stack) -> None:
    """Stop both peers and whatever they started: BentoML's workers run in sessions of their
    own, out of reach of a signal to its process group."""
    for peer in ("kserve", "bentoml"):
        if peer not in stack.services:
            continue
        # Handles on the very processes, not on numbers another process could take over.
        handles = []
        for pid in descendants([stack.services[peer].process.pid]):
            with contextlib.suppress(ProcessLookupError):
                handles.append(os.pidfd_open(pid))
        stack.stop(peer)
        for handle in handles:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(handle, signal.SIGKILL)
            os.close(handle)


def _labels(stack: Stack) -> dict[str, str]:
    """Each path's label for the sample text, once every peer worker answers."""
    labels = {}
    for name, (server, path, body, label) in PATHS.items():
        support.wait_until(
            lambda s=server, p=path, b=body: stack.api("POST", p, server=s, json=b).ok,
            120,
            f"{name} answering",
        )
        labels[name] = label(stack.api("POST", path, server=server, json=body).json())
    return labels


def run(ctx: Context) -> tuple[dict, list[Target]]:
    stack = ctx.stack
    store = ModelStore(stack.model_dir)
    # The signature, library versions and checksums, checked as a serving process checks
    # them; the peers then check the files against this manifest before unpickling them.
    store.load(ctx.models["sms"])
    workers = stack.web_workers()
    _start_peers(stack, store.path(ctx.models["sms"]), workers)
    try:
        stack.wait_ready()
        labels = _labels(stack)
        if len(set(labels.values())) != 1:
            raise RuntimeError(f"The peers' labels differ from the project's: {labels}")
        roots = {
            "rest_predict": {"web": "web", "grpc": "algorithm_grpc"},
            "kserve_v1": {"kserve": "kserve"},
            "kserve_v2": {"kserve": "kserve"},
            "bentoml": {"bentoml": "bentoml"},
        }

        def load(name: str, concurrency: int, seconds: float) -> dict:
            server, path, body, _ = PATHS[name]
            return ctx.http(server, path, body, concurrency, seconds)

        for name in PATHS:
            warm_up(lambda c, s, n=name: load(n, c, s))
        figures = {"workers": workers, "labels": labels, "cpu": {}}
        for concurrency in ctx.sizes.concurrencies:
            seconds = ctx.sizes.latency_seconds if concurrency == 1 else ctx.sizes.load_seconds
            # The workers that should share the load: wrk keeps each connection open, and
            # one connection is served by one worker.
            sharing = min(workers, concurrency)
            meters = {
                name: CpuMeter(
                    {
                        server: Server(
                            stack.services[service].process.pid,
                            sharing if service != "algorithm_grpc" else 1,
                        )
                        for server, service in roots[name].items()
                    }
                )
                for name in PATHS
            }
            figures[str(concurrency)] = side_by_side(
                {
                    name: meters[name].wrap(lambda n=name, c=concurrency, s=seconds: load(n, c, s))
                    for name in PATHS
                },
                ctx.sizes.repetitions,
            )
            figures["cpu"][str(concurrency)] = {
                name: meter.report() for name, meter in meters.items()
            }
    finally:
        _stop_peers(stack)
    return figures, _targets(figures, max(ctx.sizes.concurrencies))


def _cpu_ms(cpu: dict[str, dict]) -> float:
    """CPU ms per request of a path, every process of every server it goes through."""
    return sum(server["total_ms"] for server in cpu.values())


def _targets(figures: dict, top: int) -> list[Target]:
    rest = figures[str(top)]["rest_predict"]
    targets = []
    for peer, title in (("kserve_v1", "KServe V1"), ("bentoml", "BentoML")):
        served = figures[str(top)][peer]
        targets += [
            at_least(
                f"REST vs {title} throughput c{top}",
                rest["rps"],
                served["rps"],
                "req/s",
                f"{title} c{top}",
            ),
            at_most(
                f"REST vs {title} p99 c{top}",
                rest["p99_ms"],
                served["p99_ms"],
                "ms",
                f"{title} p99 (lower)",
            ),
        ]
    cpu = figures["cpu"][str(top)]
    targets.append(
        at_most(
            f"REST vs KServe V1 CPU per request c{top}",
            _cpu_ms(cpu["rest_predict"]),
            _cpu_ms(cpu["kserve_v1"]),
            "ms",
            "KServe V1 (web + gRPC server against its workers)",
        )
    )
    return targets
