"""Every Procfile process starts through this module:
``python -m common.launch <tree> <command> [args...]`` makes the tree's metrics folder afresh,
names it in the environment and runs the command in its place (exec, so the pid stays).

prometheus_client picks its multiprocess mode when it is first imported, from
PROMETHEUS_MULTIPROC_DIR; gunicorn and Celery fork their workers, so every process of a tree
must write its samples into the tree's folder (common/metrics.py sums them). This module
therefore imports nothing that imports prometheus_client: the command's first import of it
must see the folder already named.
"""

import os
import pathlib
import shutil
import sys
from typing import NamedTuple

from common import settings

# service: the process trees (the Procfile's names) whose samples its metrics endpoint serves;
# the first tree serves them.
SERVICE_TREES = {
    "web": ("web",),
    "algorithm": ("algorithm_grpc", "algorithm_http"),
    "worker": ("algorithm_celery", "algorithm_monitor"),
    "scheduler": ("scheduler",),
}
# In each tree's folder: the tree's first process, as "<pid> <start time in clock ticks>" (a
# pid alone could be reused by another process once the tree's has gone).
ROOT_FILE = "root"
PROC = pathlib.Path("/proc")


class ProcessStat(NamedTuple):
    parent: int
    start: int
    cpu_ticks: int
    rss_pages: int


def process_stat(pid: int | str) -> ProcessStat | None:
    """Some fields of /proc/<pid>/stat (proc(5)); None once the process has gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The fields after the command, which is in parentheses and may hold anything.
    fields = text[text.rindex(")") + 2 :].split()
    return ProcessStat(
        parent=int(fields[1]),
        start=int(fields[19]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        rss_pages=int(fields[21]),
    )


def main(argv: list[str]) -> None:
    trees = [tree for service_trees in SERVICE_TREES.values() for tree in service_trees]
    if len(argv) < 2 or argv[0] not in trees:
        sys.exit(f"usage: python -m common.launch {{{'|'.join(trees)}}} COMMAND [ARGS...]")
    tree, command = argv[0], argv[1:]
    folder = settings.METRICS_DIR / tree
    # A fresh folder: the files of a previous run's processes would be summed in too.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pid = os.getpid()  # exec keeps it, and the start time with it
    stat = process_stat(pid)
    assert stat is not None  # this process is alive
    (folder / ROOT_FILE).write_text(f"{pid} {stat.start}")
    # The command's environment, not configuration read here: what it inherits at exec.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    os.environ[settings.METRICS_TREE_VARIABLE] = tree
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
