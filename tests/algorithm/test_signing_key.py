"""No signing key has a value anybody else knows: the key is given or generated per
deployment, and the command line loads no model without one."""

import os
import subprocess
import sys
import uuid

import pytest

from algorithm.domain.store import ModelStore
from common import settings as common_settings
from tests import tampering
from tests.support import REPO_ROOT

# The key every installation used when MODEL_SIGNING_KEY was unset.
FORMER_DEFAULT_KEY = "textclf-development-signing-key"


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "algorithm.tools.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def forged_model_dir(tmp_path, monkeypatch, tiny_model, metadata):
    """A model whose pickle runs code, signed with the key that used to be the default."""
    monkeypatch.setattr(common_settings, "MODEL_SIGNING_KEY", FORMER_DEFAULT_KEY)
    store = ModelStore(tmp_path / "models")
    marker = tmp_path / "marker"
    store.publish(
        str(uuid.uuid4()), tiny_model.vectorizer, tampering.WritesMarker(marker), metadata
    )
    store.activate(store.list_manifests()[0]["model_id"])
    return store.root, marker


def test_without_a_key_the_command_line_loads_no_model(tmp_path, forged_model_dir):
    model_dir, marker = forged_model_dir
    env = {key: value for key, value in os.environ.items() if key != "MODEL_SIGNING_KEY"}
    env.update(MODEL_DIR=str(model_dir), SECRETS_DIR=str(tmp_path / "no-secrets"))

    result = run_cli("predict", "--text", "hello", env=env)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: MODEL_SIGNING_KEY is not set and ")
    assert not marker.exists()


def test_a_model_signed_with_the_former_default_key_is_refused(forged_model_dir):
    model_dir, marker = forged_model_dir

    result = run_cli("predict", "--text", "hello", env={**os.environ, "MODEL_DIR": str(model_dir)})

    assert result.returncode == 5, result.stderr
    assert "manifest signature of" in result.stderr
    assert not marker.exists()
