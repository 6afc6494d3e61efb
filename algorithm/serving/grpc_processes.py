"""The gRPC server as several processes on one port (ALGORITHM_GRPC_PROCESSES): each its own
interpreter, so its own interpreter lock, models and model watcher; the kernel spreads new
connections over their sockets (SO_REUSEPORT), as it does for the Flask shim's gunicorn.

gRPC's core does not survive a fork once a server or a channel exists in the process
(grpc/doc/fork_support.md), so the parent creates none: it forks the servers first, as gRPC
Python's examples/python/multiprocessing does, and only supervises them. It passes SIGTERM
and SIGINT on and waits for every server's graceful stop. A server killed by a signal (the
kernel's out-of-memory killer, a crash) is replaced in its slot; one that exits by itself
failed to start or run (its port taken, say), which starting it again would repeat, so the
parent stops the others and exits with an error for the orchestrator to restart the replica.
"""

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

from common import metrics

logger = logging.getLogger(__name__)

# The servers stop within their 5 s grace; one still running this long after is killed.
STOP_TIMEOUT_SECONDS = 10
_POLL_SECONDS = 0.2
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def supervise(count: int, serve: Callable[[int], None]) -> int:
    """Run serve(slot) in `count` forked processes (slots 0 to count - 1) until a stop
    signal, replacing any killed one; returns the parent's exit status."""
    children: dict[int, int] = {}  # pid: slot
    stopping: list[bool] = []

    def stop_all(reason: str) -> None:
        if not stopping:
            logger.info("%s: stopping %d gRPC server processes", reason, len(children))
            stopping.append(True)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def on_signal(signum: int, _frame: object) -> None:
        stop_all(f"Signal {signum}")

    def start(slot: int) -> None:
        # Blocked across the fork: a child must never run the parent's handler.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            _child(slot, serve)
        children[pid] = slot
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        logger.info("gRPC server process %d started in slot %d", pid, slot)

    for signum in _STOP_SIGNALS:
        signal.signal(signum, on_signal)
    for slot in range(count):
        start(slot)
    status, deadline = 0, None
    while children:
        pid, wait_status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            if stopping and deadline is None:
                deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                logger.error("gRPC server processes %s did not stop: killing them", list(children))
                for child in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(_POLL_SECONDS)
            continue
        slot = children.pop(pid)
        metrics.process_exited(pid)
        if stopping:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        if code < 0:
            logger.error(
                "gRPC server process %d (slot %d) was killed by signal %d; starting another",
                pid,
                slot,
                -code,
            )
            start(slot)
        else:
            status = 1
            stop_all(f"gRPC server process {pid} (slot {slot}) exited with status {code}")
    logger.info("gRPC server processes stopped")
    return status


def _child(slot: int, serve: Callable[[int], None]) -> None:
    """The forked process: serve, then exit without returning into the parent's loop."""
    status = 1
    try:
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        serve(slot)
        status = 0
    except BaseException:
        logger.exception("gRPC server process failed")
    finally:
        logging.shutdown()
        os._exit(status)
