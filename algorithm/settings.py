"""The algorithm service's and the worker's configuration, read once from the environment."""

import os
import pathlib
import time
import tomllib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _path(name: str, default: str) -> pathlib.Path:
    path = pathlib.Path(os.environ.get(name) or default)
    return path if path.is_absolute() else REPO_ROOT / path


DATABASE_URL = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/textclf"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# Where RedBeat keeps the schedules; the broker's Redis unless set.
REDBEAT_REDIS_URL = os.environ.get("REDBEAT_REDIS_URL") or REDIS_URL
# Prepended to every Redis key the service writes, so several deployments (or test runs)
# can share one Redis server.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "")
MODEL_DIR = _path("MODEL_DIR", "var/models")
LOG_DIR = _path("LOG_DIR", "var/log")
# Signs every model manifest; a manifest whose signature does not match is never loaded.
# The default suits local development only: set your own in any shared deployment.
MODEL_SIGNING_KEY = os.environ.get("MODEL_SIGNING_KEY") or "textclf-development-signing-key"

GRPC_PORT = int(os.environ.get("ALGORITHM_GRPC_PORT") or 50051)
HTTP_PORT = int(os.environ.get("ALGORITHM_HTTP_PORT") or 5000)
GRPC_THREADS = int(os.environ.get("ALGORITHM_GRPC_THREADS") or 16)

# How often a serving process looks for a newly activated model version.
ACTIVE_MODEL_POLL_SECONDS = float(os.environ.get("ACTIVE_MODEL_POLL_SECONDS") or 0.25)
# Model versions kept loaded besides the active one, for predictions that name a version.
MODEL_CACHE_SIZE = int(os.environ.get("MODEL_CACHE_SIZE") or 4)

MAX_TEXT_CHARS = 20_000
# The data table's label column (web.data.models.LABEL_MAX_LENGTH), which Django owns.
MAX_LABEL_CHARS = 100
MAX_BATCH_TEXTS = 1_000
# Database work in a request must fail fast, never hang.
DB_CONNECT_TIMEOUT_SECONDS = 3
DB_STATEMENT_TIMEOUT_MS = 5_000
# A running job's worker touches the job's row several times within this; a row left
# untouched for longer belongs to a worker that died, and the job is queued again.
JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS") or 60)
# Times a job may be taken by a worker before a dying worker fails it instead.
JOB_MAX_ATTEMPTS = 3

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
# Set by the image build (docker build --build-arg ...); "unknown" outside an image.
BUILD_TIME = os.environ.get("BUILD_TIME") or "unknown"
GIT_REVISION = os.environ.get("GIT_REVISION") or "unknown"
STARTED_AT = time.time()
