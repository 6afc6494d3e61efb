"""scripts/smoke.py against the stack: every REST method in turn, and a stop at the first
failure."""

import subprocess
import sys

import pytest

from tests import support

pytestmark = pytest.mark.slow


def test_smoke_script_drives_every_rest_method_against_the_stack(stack):
    result = subprocess.run(
        [sys.executable, "scripts/smoke.py", "--url", stack["web"], "--token", stack["token"]],
        cwd=support.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [
        line.split("  ")[1].strip() for line in result.stdout.splitlines() if line.startswith("ok")
    ]
    assert steps == [
        "health",
        "import data",
        "list data",
        "list algorithms",
        "train",
        "predict",
        "predict a batch",
        "evaluate",
        "delete metric record",
        "train another",
        "activate older",
        "retrain",
        "delete model",
        "list models",
        "info",
        "log",
    ]
    assert result.stdout.splitlines()[-1] == "smoke test passed"


def test_smoke_script_stops_at_the_first_failure(stack):
    result = subprocess.run(
        [sys.executable, "scripts/smoke.py", "--url", stack["web"], "--token", "wrong"],
        cwd=support.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["ok  health                 ok"]
    assert result.stderr.startswith("FAILED  POST /data/import/: HTTP 401")
