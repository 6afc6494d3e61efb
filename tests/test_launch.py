"""The launcher every Procfile process starts through (common/launch.py)."""

import json
import os
import subprocess
import sys

from tests.support import REPO_ROOT

# What the launched command sees: its pid, its tree and the multiprocess folder.
_REPORT = (
    "import json, os; print(json.dumps({'pid': os.getpid(), "
    "'tree': os.environ['TEXTCLF_METRICS_TREE'], "
    "'folder': os.environ['PROMETHEUS_MULTIPROC_DIR']}))"
)


def test_the_command_runs_in_the_launchers_place_with_its_trees_fresh_folder(tmp_path):
    stale = tmp_path / "web" / "stale.db"
    stale.parent.mkdir()
    stale.write_text("a previous run's samples")
    env = {**os.environ, "METRICS_DIR": str(tmp_path)}
    launched = subprocess.run(
        [sys.executable, "-m", "common.launch", "web", sys.executable, "-c", _REPORT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(launched.stdout)
    root_pid, _start = (tmp_path / "web" / "root").read_text().split()
    assert report == {
        "pid": int(root_pid),
        "tree": "web",
        "folder": str(tmp_path / "web"),
    }
    assert not stale.exists()


def test_importing_the_launcher_leaves_prometheus_client_unimported():
    """prometheus_client reads PROMETHEUS_MULTIPROC_DIR once, at its first import: imported
    before the launcher names the folder, a process would keep its samples to itself."""
    probe = "import sys, common.launch; print('prometheus_client' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_an_unknown_tree_is_refused_with_the_usage():
    result = subprocess.run(
        [sys.executable, "-m", "common.launch", "nonesuch", "true"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("usage: python -m common.launch {web|algorithm_grpc|")
