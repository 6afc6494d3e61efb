"""Secrets not given in the environment are generated once per deployment, kept where only
the service's user can read them, and the API token is shown once, with how to read it again."""

import os
import stat
import subprocess
import sys

import pytest

from common import credentials, settings
from tests.support import REPO_ROOT


@pytest.fixture
def secrets_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "SECRETS_DIR", tmp_path / "secrets")
    for name in credentials.NAMES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "secrets"


def test_each_missing_secret_is_generated_once_and_kept(secrets_dir):
    assert credentials.ensure_secrets() == list(credentials.NAMES)
    values = {name: credentials.secret(name) for name in credentials.NAMES}

    assert credentials.ensure_secrets() == []
    assert {name: credentials.secret(name) for name in credentials.NAMES} == values
    assert len(set(values.values())) == len(values)
    for name, value in values.items():
        assert len(value) == 40 and int(value, 16) >= 0
        assert stat.S_IMODE((secrets_dir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700


def test_a_secret_in_the_environment_wins_and_is_not_generated(secrets_dir, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "from-the-environment")

    assert "API_TOKEN" not in credentials.ensure_secrets()
    assert not (secrets_dir / "API_TOKEN").exists()
    assert credentials.secret("API_TOKEN") == "from-the-environment"


def test_the_token_is_printed_when_made_and_read_again_on_demand(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in credentials.NAMES}
    env["SECRETS_DIR"] = str(tmp_path / "secrets")

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "common.credentials", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    first = run()
    token = (tmp_path / "secrets" / "API_TOKEN").read_text().strip()
    assert first.splitlines()[1:] == [
        f"The API token is {token}",
        "Read it again with: python -m common.credentials show API_TOKEN",
    ]
    assert run() == ""
    assert run("show", "API_TOKEN") == f"{token}\n"
