"""Web's settings for the test run, with the deployment's secrets generated as `make run`
generates them, in a folder of the tests' own: every process the tests start inherits it
through SECRETS_DIR. pytest-django imports this before any conftest."""

import os
import pathlib

os.environ.setdefault(
    "SECRETS_DIR", str(pathlib.Path(__file__).resolve().parent.parent / "var" / "test-secrets")
)

from common import credentials

credentials.ensure_secrets()

from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402

from web.config.settings import *  # noqa: E402, F403


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """The deployment's hasher at a thousandth of its work: the tests in process check who
    may sign in, not how long a guess costs (tests/hostile/ does, on the real stack)."""

    iterations = 1_000


PASSWORD_HASHERS = ["tests.django_settings.QuickPBKDF2PasswordHasher"]
