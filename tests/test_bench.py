"""The benchmark suite runs end to end at its smoke size, so it cannot rot.

Timings are never asserted: only that every section measured something and that the
results and the plot were written.
"""

import json
import os
import subprocess
import sys

import pytest

from common import credentials
from tests import support

SECTIONS = {
    "latency",
    "throughput",
    "batch",
    "explanations",
    "inference_protocol",
    "grpc_processes",
    "growth",
    "hot_swap",
    "traffic",
    "learning",
    "data",
    "naive",
    "console",
}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_smoke_run_writes_every_section_the_targets_and_the_plot(tmp_path):
    # As `make bench` runs it: no secret given, so its stack makes its own.
    secret_names = {*credentials.NAMES, "SECRETS_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=support.REPO_ROOT,
        env={name: value for name, value in os.environ.items() if name not in secret_names},
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["sizes"] == "smoke"
    assert set(results["sections"]) == SECTIONS
    assert not [name for name, figures in results["sections"].items() if "error" in figures]
    assert {"cpu", "cores", "python", "kernel", "line"} <= set(results["machine"])
    # Every repetition is kept beside the median: the warm floor and the cold one apart.
    latency = results["sections"]["latency"]
    for name in ("in_process", "in_process_warm", "rest_predict"):
        assert len(latency[name]["runs"]) == latency[name]["repetitions"] >= 1
    names = [target["name"] for target in results["targets"]]
    assert len(names) == len(set(names)) >= 10
    for target in results["targets"]:
        assert target["name"] in done.stdout
        assert isinstance(target["met"], bool)
    assert (tmp_path / "latest.png").read_bytes().startswith(b"\x89PNG")
