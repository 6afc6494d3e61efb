"""bench.cpu reads each server process's CPU time around a load run, and tells when a server's
workers did not share the load; the peers' environments pin the libraries of the pickles."""

import os
import pathlib
import signal
import subprocess
import sys
import time
import tomllib

import pytest

from bench import cpu
from tests import support

# A parent that spins for `BUSY` seconds beside a child that sleeps: one busy worker, one idle.
BUSY = 0.6
SERVER = f"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
sys.stdin.readline()
end = time.process_time() + {BUSY}
while time.process_time() < end:
    pass
print("done", flush=True)
time.sleep(30)
"""


@pytest.fixture
def server():
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    support.wait_until(lambda: len(cpu.descendants([process.pid])) == 2, 10, "the child")
    children = cpu.descendants([process.pid])[1:]
    with process:
        yield process
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        process.kill()


def test_meter_counts_each_process_of_a_server_per_request_and_flags_an_idle_worker(server):
    def load_run():
        server.stdin.write("go\n")
        server.stdin.flush()
        assert server.stdout.readline() == "done\n"
        return {"requests": 100}

    meter = cpu.CpuMeter({"peer": cpu.Server(server.pid, workers=2)})
    started = time.monotonic()
    assert meter.wrap(load_run)() == {"requests": 100}
    assert time.monotonic() - started < 10
    report = meter.report()["peer"]
    busy, idle = report["processes_ms"]
    # BUSY seconds over 100 requests, give or take a clock tick or two.
    assert busy == pytest.approx(BUSY * 1000 / 100, abs=0.5)
    assert idle < 0.2
    assert report["total_ms"] == pytest.approx(busy + idle)
    assert (report["imbalanced_runs"], report["runs"], report["workers"]) == (1, 1, 2)


def test_workers_within_a_quarter_of_their_fair_share_are_balanced():
    assert not cpu.imbalanced([1.0, 0.9, 0.01], workers=2)  # the master barely runs
    assert cpu.imbalanced([1.0, 0.1, 0.01], workers=2)  # 0.1 < 0.25 x 0.55
    assert cpu.imbalanced([1.0], workers=2)  # a worker gone
    assert not cpu.imbalanced([1.0, 0.0], workers=1)


def test_peer_environments_pin_the_libraries_that_pickled_the_model():
    root = pathlib.Path(__file__).resolve().parent.parent
    locked = {
        package["name"]: package["version"]
        for package in tomllib.loads((root / "uv.lock").read_text())["package"]
    }
    for peer in ("kserve", "bentoml"):
        pins = dict(
            line.split("==")
            for line in (root / "bench" / "peers" / f"{peer}-requirements.txt").read_text().split()
            if "==" in line
        )
        for library in ("scikit-learn", "numpy", "scipy"):
            assert pins[library] == locked[library], (peer, library)
