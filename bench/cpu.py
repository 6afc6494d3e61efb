"""CPU time of server processes around load runs, read from /proc: what each process of each
server spent per request, and whether a server's workers shared the load.

    meter = CpuMeter({"web": Server(web_pid, workers=2), "grpc": Server(grpc_pid)})
    figure = meter.wrap(lambda: ctx.http(...))()   # as many runs as wanted
    meter.report()   # {"web": {"processes_ms": [1.3, 1.2, 0.0], "total_ms": 2.5, ...}, ...}

A server is its root process and every descendant, listed again at the start of each run
(a server may replace a worker between runs); a process that starts during a run is not
counted.
"""

import os
import pathlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A worker that did less than this part of its fair share (the busiest `workers` processes'
# CPU divided by `workers`) makes the run imbalanced: the load was not spread.
IMBALANCE_SHARE = 0.25


@dataclass(frozen=True)
class Server:
    root_pid: int
    # Processes that serve requests; the others (a master, an arbiter) barely run under load.
    workers: int = 1


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def descendants(roots: Iterable[int]) -> list[int]:
    """The roots and every process below them."""
    children = defaultdict(list)
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children[int(fields[1])].append(int(entry.name))
    found, pending = [], list(roots)
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User plus system CPU seconds each process has spent so far (gone ones left out)."""
    spent = {}
    for pid in pids:
        if (fields := _stat_fields(pid)) is not None:
            # utime and stime, fields 14 and 15 of proc(5), in clock ticks.
            spent[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return spent


def imbalanced(seconds: Iterable[float], workers: int) -> bool:
    """Whether one of the `workers` busiest processes did under IMBALANCE_SHARE of its fair
    share of their CPU."""
    busiest = sorted(seconds, reverse=True)[:workers]
    if workers < 2:
        return False
    if len(busiest) < workers:
        return True
    fair = sum(busiest) / workers
    return fair > 0 and busiest[-1] < IMBALANCE_SHARE * fair


class CpuMeter:
    """CPU seconds per process of named servers, summed over the load runs it wraps."""

    def __init__(self, servers: Mapping[str, Server]):
        self.servers = dict(servers)
        self.seconds: dict[str, dict[int, float]] = {name: defaultdict(float) for name in servers}
        self.imbalanced_runs = dict.fromkeys(servers, 0)
        self.runs = 0
        self.requests = 0

    def wrap(self, run: Callable[[], dict]) -> Callable[[], dict]:
        """The run (which returns a load figure with its "requests"), measured."""

        def measured() -> dict:
            pids = {name: descendants([s.root_pid]) for name, s in self.servers.items()}
            before = {name: cpu_seconds(p) for name, p in pids.items()}
            figure = run()
            for name, server in self.servers.items():
                after = cpu_seconds(pids[name])
                spent = {pid: after[pid] - before[name][pid] for pid in after}
                for pid, seconds in spent.items():
                    self.seconds[name][pid] += seconds
                self.imbalanced_runs[name] += imbalanced(spent.values(), server.workers)
            self.runs += 1
            self.requests += figure["requests"]
            return figure

        return measured

    def report(self) -> dict[str, dict]:
        """Per server: CPU ms per request of each process, busiest first, and their total;
        in how many of the runs its workers were imbalanced."""
        requests = max(self.requests, 1)
        report = {}
        for name, by_pid in self.seconds.items():
            per_request = sorted((s * 1000 / requests for s in by_pid.values()), reverse=True)
            report[name] = {
                "processes_ms": [round(ms, 3) for ms in per_request],
                "total_ms": round(sum(per_request), 3),
                "workers": self.servers[name].workers,
                "imbalanced_runs": self.imbalanced_runs[name],
                "runs": self.runs,
            }
        return report
