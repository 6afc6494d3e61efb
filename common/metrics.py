"""Prometheus metrics: the metrics more than one service records, and how each service
serves its own at ``/metrics`` on a port of its own.

gunicorn and Celery fork their workers, so every process writes its samples through
prometheus_client's multiprocess mode into its process tree's folder, and a service's
endpoint sums the folders of its trees (the Procfile's process names). Every Procfile command
starts through common/launch.py, which names the tree's folder before prometheus_client is
first imported.

That mode has no process collector, so the endpoint reads each live process of its trees
from /proc at every scrape (``_Processes``): the trees' roots are the processes the launcher
started, and their descendants are found through their parents. A process's series have a
``pid`` label and go when it does, so there are as many as there are live processes.
"""

import contextlib
import os
import pathlib
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from common import settings
from common.launch import PROC, ROOT_FILE, SERVICE_TREES, ProcessStat, process_stat

# Each service's metrics port.
PORTS = {
    "web": settings.WEB_METRICS_PORT,
    "algorithm": settings.ALGORITHM_METRICS_PORT,
    "worker": settings.WORKER_METRICS_PORT,
    "scheduler": settings.SCHEDULER_METRICS_PORT,
}
# The container's memory: cgroup v2's files, else cgroup v1's (limit, usage, the statistic
# counted in usage that the kernel reclaims first).
CGROUP_MEMORY = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "inactive_file"),
    (
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        "total_inactive_file",
    ),
)
# cgroup v1 writes no limit as a number near 2**63.
_NO_LIMIT = 2**60

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
    for service, trees in SERVICE_TREES.items():
        if trees[0] == settings.METRICS_TREE:
            port = PORTS[service]
            registry = CollectorRegistry()
            _Trees(registry, trees, keep)
            registry.register(_Processes(trees))
            for collector in extra:
                registry.register(collector)
            start_http_server(port, addr=settings.LISTEN_ADDRESS, registry=registry)


class _Trees(multiprocess.MultiProcessCollector):
    """The samples of every process of a service's trees, summed as one process's."""

    def __init__(
        self,
        registry: CollectorRegistry,
        trees: tuple[str, ...],
        keep: Callable[[Metric], Metric] | None,
    ) -> None:
        super().__init__(registry, path=str(settings.METRICS_DIR / trees[0]))  # type: ignore[no-untyped-call]
        self._folders = [settings.METRICS_DIR / tree for tree in trees]
        self._keep = keep or (lambda metric: metric)

    def collect(self) -> Iterator[Metric]:
        files = [str(path) for folder in self._folders for path in folder.glob("*.db")]
        merged = self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        return (self._keep(metric) for metric in merged)


class _Processes(Collector):
    """Each live process of a service's trees, as Prometheus's process collector reports
    one, labelled with its tree and pid; and the container's memory and its limit, if it has
    one (cgroup), which is what running out of memory is measured against."""

    def __init__(self, trees: tuple[str, ...]):
        self._trees = trees
        self._tick = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def collect(self) -> Iterator[Metric]:
        labels = ["tree", "pid"]
        memory = GaugeMetricFamily(
            "process_resident_memory_bytes", "Resident memory size in bytes.", labels=labels
        )
        cpu = CounterMetricFamily(
            "process_cpu_seconds", "Total user and system CPU time spent in seconds.", labels=labels
        )
        fds = GaugeMetricFamily(
            "process_open_fds", "Number of open file descriptors.", labels=labels
        )
        stats = _process_stats()
        for tree in self._trees:
            for pid in _tree_pids(settings.METRICS_DIR / tree / ROOT_FILE, stats):
                stat, values = stats[pid], [tree, str(pid)]
                memory.add_metric(values, stat.rss_pages * self._page)
                cpu.add_metric(values, stat.cpu_ticks / self._tick)
                with contextlib.suppress(OSError):  # it has just exited
                    fds.add_metric(values, len(os.listdir(PROC / str(pid) / "fd")))
        yield from (memory, cpu, fds)
        yield from _container_memory()


def _process_stats() -> dict[int, ProcessStat]:
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := process_stat(entry.name)) is not None:
            stats[int(entry.name)] = stat
    return stats


def _tree_pids(root_file: pathlib.Path, stats: dict[int, ProcessStat]) -> list[int]:
    """The tree's live processes: its root, if still the process that wrote root_file, and
    every descendant."""
    try:
        pid, start = (int(value) for value in root_file.read_text().split())
    except (OSError, ValueError):
        return []
    if pid not in stats or stats[pid].start != start:
        return []
    children: dict[int, list[int]] = {}
    for child, stat in stats.items():
        children.setdefault(stat.parent, []).append(child)
    found, pending = [], [pid]
    while pending:
        found.append(current := pending.pop())
        pending.extend(children.get(current, ()))
    return sorted(found)


def _container_memory() -> Iterator[Metric]:
    for limit_path, usage_path, reclaimable in CGROUP_MEMORY:
        try:
            raw_limit = pathlib.Path(limit_path).read_text().strip()
            usage = int(pathlib.Path(usage_path).read_text())
            statistics = pathlib.Path(limit_path).with_name("memory.stat").read_text().splitlines()
        except (OSError, ValueError):
            continue
        if raw_limit == "max" or int(raw_limit) >= _NO_LIMIT:
            return
        inactive = next(
            (int(line.split()[1]) for line in statistics if line.split()[0] == reclaimable), 0
        )
        yield GaugeMetricFamily(
            "textclf_container_memory_limit_bytes",
            "The memory limit of this service's container (its cgroup); absent if none.",
            value=int(raw_limit),
        )
        yield GaugeMetricFamily(
            "textclf_container_memory_working_set_bytes",
            "Memory the container uses that the kernel cannot reclaim before it runs out "
            "(usage less inactive file cache, as cAdvisor's working set).",
            value=max(0, usage - inactive),
        )
        return


def process_exited(pid: int) -> None:
    """gunicorn's child_exit: a dead worker's live gauges leave the sums."""
    if settings.METRICS_TREE:  # the launcher chose the multiprocess mode
        multiprocess.mark_process_dead(pid)
