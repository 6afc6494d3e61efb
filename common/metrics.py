"""Prometheus metrics: the metrics more than one service records, and how each service
serves its own at ``/metrics`` on a port of its own.

gunicorn and Celery fork their workers, so every process writes its samples through
prometheus_client's multiprocess mode into its process tree's folder, and a service's
endpoint sums the folders of its trees (the Procfile's process names). The mode must be
chosen before prometheus_client is first imported, which is why every Procfile command
starts through this module: ``python -m common.metrics <tree> <command> [args...]`` makes
the tree's folder afresh, names it in the environment and runs the command in its place.
"""

import os
import shutil
import sys
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from common import settings

# service: (its metrics port, the process trees whose samples it serves; the first serves)
SERVICES = {
    "web": (settings.WEB_METRICS_PORT, ("web",)),
    "algorithm": (settings.ALGORITHM_METRICS_PORT, ("algorithm_grpc", "algorithm_http")),
    "worker": (settings.WORKER_METRICS_PORT, ("algorithm_celery", "algorithm_monitor")),
    "scheduler": (settings.SCHEDULER_METRICS_PORT, ("scheduler",)),
}
TREE_VARIABLE = "TEXTCLF_METRICS_TREE"

# Recorded by web and by the Flask shim; each serves its own (job tells them apart).
HTTP_REQUESTS = Counter(
    "textclf_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "textclf_http_request_duration_seconds",
    "Time from a request's arrival in the application to its answer.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# Recorded by web (texts per PredictBatch call) and the algorithm service (texts per
# scikit-learn call).
COALESCED_BATCH_TEXTS = Histogram(
    "textclf_coalesced_batch_texts",
    "Texts in each batch the prediction coalescer sends on.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
)
# A request that matched no route is counted under this one label value, whatever its path.
UNMATCHED_ROUTE = "unmatched"


def record_http_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_REQUEST_SECONDS.labels(route, method).observe(seconds)


def serve_if_first(*extra: Collector, keep: Callable[[Metric], Metric] | None = None) -> None:
    """Serve this service's metrics, if this process runs its first tree: the sum of its
    trees' samples (each family passed through `keep`, if given) and the `extra` collectors,
    which report what only this process knows."""
    tree = os.environ.get(TREE_VARIABLE)
    for port, trees in SERVICES.values():
        if tree == trees[0]:
            registry = CollectorRegistry()
            _Trees(registry, trees, keep)
            for collector in extra:
                registry.register(collector)
            start_http_server(port, addr=settings.LISTEN_ADDRESS, registry=registry)


class _Trees(multiprocess.MultiProcessCollector):
    """The samples of every process of a service's trees, summed as one process's."""

    def __init__(self, registry, trees, keep):
        super().__init__(registry, path=str(settings.METRICS_DIR / trees[0]))
        self._folders = [settings.METRICS_DIR / tree for tree in trees]
        self._keep = keep or (lambda metric: metric)

    def collect(self) -> Iterator[Metric]:
        files = [str(path) for folder in self._folders for path in folder.glob("*.db")]
        return (self._keep(metric) for metric in self.merge(files, accumulate=True))


def process_exited(pid: int) -> None:
    """gunicorn's child_exit: a dead worker's live gauges leave the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not any(argv[0] in trees for _, trees in SERVICES.values()):
        names = "|".join(tree for _, trees in SERVICES.values() for tree in trees)
        sys.exit(f"usage: python -m common.metrics {{{names}}} COMMAND [ARGS...]")
    tree, command = argv[0], argv[1:]
    folder = settings.METRICS_DIR / tree
    # A fresh folder: the files of a previous run's processes would be summed in too.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    os.environ[TREE_VARIABLE] = tree
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
