"""No hand-written module grows past 400 lines: past that, a module holds more than one thing
and a change to one of them lands among the others. Generated code (the protos' modules,
Django's migrations) is left out."""

import subprocess

from tests import support

MAX_LINES = 400
GENERATED = ("algorithm/v1/", "algorithm/inference/", "/migrations/")


def test_no_hand_written_module_is_over_400_lines():
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"],
        cwd=support.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    modules = [path for path in tracked if not any(part in path for part in GENERATED)]
    too_long = {
        path: lines
        for path in modules
        if (lines := len((support.REPO_ROOT / path).read_text().splitlines())) > MAX_LINES
    }

    assert len(modules) > 200
    assert too_long == {}, f"split these by what their parts hold: {too_long}"
