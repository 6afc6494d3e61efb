"""The settings more than one service reads, each read once from the environment.

One rule for every variable: unset or empty (or only spaces) means the default.
"""

import os
import pathlib
import time
import tomllib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_path(name: str, default: str) -> pathlib.Path:
    """A path; a relative one is taken from the repository's root, where `make run` runs."""
    path = pathlib.Path(env(name, default))
    return path if path.is_absolute() else REPO_ROOT / path


DATABASE_URL = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/textclf")
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
# Prepended to every Redis key the services write (queues, schedules, throttle counters), so
# several deployments (or test runs) can share one Redis server.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", "")
LOG_DIR = env_path("LOG_DIR", "var/log")

# Signs every model manifest; a manifest whose signature does not match is never loaded.
# The default suits local development only: set your own in any shared deployment (web's
# `check --deploy` warns while it is the default).
MODEL_SIGNING_KEY = env("MODEL_SIGNING_KEY", "textclf-development-signing-key")

ALGORITHM_GRPC_PORT = env_int("ALGORITHM_GRPC_PORT", 50051)
ALGORITHM_HTTP_PORT = env_int("ALGORITHM_HTTP_PORT", 5000)

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
# Set by the image build (docker build --build-arg ...); "unknown" outside an image.
BUILD_TIME = env("BUILD_TIME", "unknown")
GIT_REVISION = env("GIT_REVISION", "unknown")
STARTED_AT = time.time()
