"""No secret is committed: every secret the repository names has only placeholder or
development values in it, and nothing in it looks like a real key or token; and
`check --deploy` names the secrets a deployment left at those values."""

import re
import secrets
import subprocess

import pytest

from tests.support import REPO_ROOT

SECRETS = (
    "API_TOKEN",
    "DJANGO_SECRET_KEY",
    "MODEL_SIGNING_KEY",
    "ALGORITHM_SERVICE_TOKEN",
    "PREDICTION_LOG_KEY",
    "MODEL_SIGNING_KEY_PREVIOUS",
    "ALGORITHM_SERVICE_TOKEN_PREVIOUS",
    "POSTGRES_PASSWORD",
    "DATABASE_PASSWORD",
    "REDIS_PASSWORD",
)
# A value given to one of them: `NAME=value`, `NAME: value`, `NAME ?= value`, `${NAME:-value}`.
# In Python, the default of an environment lookup: `get("NAME") or "value"`, `get("NAME", "value")`.
ASSIGNED = re.compile(
    rf"\b(?P<name>{'|'.join(SECRETS)})"
    rf"(?:=|:-|: | \?= |\"\) or \"|\", \")(?P<value>[^\s}}\"'$]+)"
)
# What says "replace me" (or "local development only") on its face.
PLACEHOLDER = re.compile(r"change-me|development|insecure")
KEY_SHAPES = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    "API token (40 hex digits, as DRF makes them)": re.compile(r"\b[0-9a-f]{40}\b"),
}


def _tracked_text_files():
    names = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in names:
        if name == "uv.lock" or name.startswith("tests/data/"):  # hashes; public data
            continue
        try:
            yield name, (REPO_ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue


FILES = dict(_tracked_text_files())


def test_the_scan_reads_the_files_that_configure_secrets():
    assert {".env.example", "docker-compose.yml", "Makefile", "web/config/settings.py"} <= set(
        FILES
    )


def test_every_committed_value_of_a_secret_is_a_placeholder():
    values = {
        (name, match["name"], match["value"])
        for name, text in FILES.items()
        if not name.startswith("tests/")
        for match in ASSIGNED.finditer(text)
    }
    real = [
        (name, secret, value) for name, secret, value in values if not PLACEHOLDER.search(value)
    ]
    assert real == []


@pytest.mark.parametrize("shape", sorted(KEY_SHAPES))
def test_nothing_committed_looks_like_a_key(shape):
    found = [
        f"{name}:{number}"
        for name, text in FILES.items()
        for number, line in enumerate(text.splitlines(), 1)
        if KEY_SHAPES[shape].search(line)
        # Actions are pinned by commit, which is 40 hex digits too.
        and not re.match(r"\s*(- )?uses: [\w./-]+@[0-9a-f]{40} ", line)
    ]
    assert found == []


def _deploy_warnings():
    from django.core import checks

    return [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.id == "textclf.W001"
    ]


def test_check_deploy_names_the_secrets_left_at_a_placeholder(settings):
    settings.API_TOKEN = "change-me-to-a-long-random-token"
    settings.SECRET_KEY = "x" * 50

    (warning,) = _deploy_warnings()
    assert warning.msg == (
        "API_TOKEN still holds a development default or a placeholder from the repository."
    )


def test_check_deploy_is_quiet_once_every_secret_is_set(settings):
    settings.API_TOKEN = secrets.token_hex(20)
    settings.SECRET_KEY = secrets.token_urlsafe(50)

    assert _deploy_warnings() == []
